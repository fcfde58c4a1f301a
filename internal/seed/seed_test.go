package seed_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/seed"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// Every shape lands where the portal reads it: clusters in the simulator
// and, after a sync, the inventory; requests in every state with exact
// counts; versions newest first; audit events in a chain that verifies.
func TestSeedEveryShape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	_, api := simtest.Start(t, time.Millisecond)

	require.NoError(t, seed.AuditEvents(ctx, pool, 500))
	uids, err := seed.Clusters(ctx, api, 6)
	require.NoError(t, err)
	require.Len(t, uids, 6)
	_, err = inventory.NewSyncer(pool, api, inventory.Config{}).Sync(ctx)
	require.NoError(t, err)
	list, err := inventory.ClusterList(ctx, pool, inventory.Filter{Name: "seed-"})
	require.NoError(t, err)
	require.Len(t, list, 6)
	envs := map[string]bool{}
	for _, c := range list {
		envs[c.Environment] = true
	}
	require.Equal(t, map[string]bool{"production": true, "staging": true, "development": true}, envs)

	people, err := seed.Users(ctx, pool, 5)
	require.NoError(t, err)
	n, err := seed.Requests(ctx, pool, seed.RequestsOptions{N: 240, Requesters: people, Open: 30})
	require.NoError(t, err)
	require.Equal(t, 240, n)
	var byState = map[string]int{}
	rows, err := pool.Query(ctx, "SELECT state, count(*) FROM change_requests GROUP BY state")
	require.NoError(t, err)
	for rows.Next() {
		var st string
		var c int
		require.NoError(t, rows.Scan(&st, &c))
		byState[st] = c
	}
	require.NoError(t, rows.Err())
	for _, st := range approvals.States() {
		require.Positive(t, byState[string(st)], "every state is seeded: %s", st)
	}
	counts, err := approvals.CountByState(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, byState["pending"]+byState["stale"], counts.Waiting, "the trigger's counts match the table")
	require.Equal(t, byState["approved"]+byState["submitting"]+byState["applying"], counts.Running)
	r, err := approvals.Get(ctx, pool, 1)
	require.NoError(t, err, "a seeded request reads like a filed one")
	require.Equal(t, []string{"spec.query.replicas"}, r.Revision.Diff.Paths())

	last, err := seed.Versions(ctx, pool, api, uids[0], 4)
	require.NoError(t, err)
	versions, err := inventory.VersionPage(ctx, pool, uids[0], 0, 10)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(versions), 4)
	require.Equal(t, last, versions[0].ResourceVersion, "newest first")
	require.True(t, versions[0].Attributed && versions[0].Outside)

	result, err := audit.Verify(ctx, pool)
	require.NoError(t, err)
	require.True(t, result.OK, result.String())
	require.GreaterOrEqual(t, result.Events, int64(500))
}
