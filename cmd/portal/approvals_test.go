package main

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/metrics"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// approvalStack is serve's wiring on a database of its own and the
// simulator: the configuration serve would read, the shared syncer built
// from it, and the simulator.
func approvalStack(t *testing.T) (*pgxpool.Pool, config.Config, *inventory.Syncer, *sim.Server) {
	t.Helper()
	return approvalStackWith(t, nil)
}

// approvalStackWith is approvalStack with the PORTAL_* variables of env
// set over its own (timings, for instance).
func approvalStackWith(t *testing.T, env map[string]string) (*pgxpool.Pool, config.Config, *inventory.Syncer, *sim.Server) {
	t.Helper()
	s, err := sim.New(sim.Config{ClientID: "sa", ClientSecret: "sa-secret", StageDuration: 10 * time.Millisecond, SeedDemo: true})
	require.NoError(t, err)
	api := httptest.NewServer(s)
	t.Cleanup(func() { api.Close(); _ = s.Close() })
	vars := map[string]string{
		"PORTAL_DATABASE_URL":            "postgres://unused/unused",
		"PORTAL_CLOUD_API_URL":           s.APIURL(api.URL),
		"PORTAL_CLOUD_TOKEN_URL":         s.TokenURL(api.URL),
		"PORTAL_CLOUD_CLIENT_ID":         "sa",
		"PORTAL_CLOUD_CLIENT_SECRET":     "sa-secret",
		"PORTAL_AUDIT_VERIFY_INTERVAL":   "1h",
		"PORTAL_INVENTORY_SYNC_INTERVAL": "1h",
		"PORTAL_TRACK_INTERVAL":          "20ms",
	}
	maps.Copy(vars, env)
	cfg, err := config.Load(func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	})
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cloud, err := newCloudClient(cfg, logger, nil)
	require.NoError(t, err)
	pool := testdb.New(t)
	syncer := newSyncer(pool, cloud, logger)
	_, err = syncer.Sync(t.Context())
	require.NoError(t, err)
	return pool, cfg, syncer, s
}

// approveStart files a start of clickstream-dev (one approval needed) and
// has another person approve it with the service.
func approveStart(t *testing.T, pool *pgxpool.Pool, syncer *inventory.Syncer, service *approvals.Service) approvals.Request {
	t.Helper()
	ctx := t.Context()
	user := func(name string, groups string) int64 {
		var id int64
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (issuer, subject, username, name, groups, last_login_at)
			VALUES ('https://idp.test', $1, $1, $1, $2, now()) RETURNING id`, name, groups).Scan(&id))
		return id
	}
	alice := approvals.Actor{UserID: user("alice", "{developers}"), Name: "alice", Groups: []string{"developers"}, Origin: audit.Origin{IP: "192.0.2.1"}}
	carol := approvals.Actor{UserID: user("carol", "{approvers}"), Name: "carol", Groups: []string{"approvers"}, Approver: true, Origin: audit.Origin{IP: "192.0.2.2"}}
	list, err := inventory.ClusterByName(ctx, pool, "clickstream-dev")
	require.NoError(t, err)
	require.Len(t, list, 1)
	r, err := service.Create(ctx, alice, approvals.NewRequest{Kind: approvals.KindStart, ClusterUID: list[0].UID, Reason: "testing"})
	require.NoError(t, err)
	live, err := syncer.Refresh(ctx, r.ClusterUID)
	require.NoError(t, err)
	out, err := service.Approve(ctx, carol, r.ID, approvals.Approve{Revision: r.Revision.Number, LiveResourceVersion: live.ResourceVersion})
	require.NoError(t, err)
	require.True(t, out.Completed)
	return r
}

func submitJobs(t *testing.T, pool *pgxpool.Pool, id int64) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(t.Context(),
		`SELECT count(*) FROM river_job WHERE kind = 'submit' AND (args->>'request_id')::bigint = $1`, id).Scan(&n))
	return n
}

// A web-only process enqueues the submission with an insert-only client.
func TestApprovalEnqueuesSubmissionWebOnly(t *testing.T) {
	pool, _, syncer, _ := approvalStack(t)
	service, err := approvalsService(pool, nil)
	require.NoError(t, err)
	r := approveStart(t, pool, syncer, service)
	require.Equal(t, 1, submitJobs(t, pool, r.ID))
	var dryRuns int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE kind = 'request_dry_run'
		AND (args->>'request_id')::bigint = $1`, r.ID).Scan(&dryRuns))
	require.Equal(t, 1, dryRuns, "filing enqueued the revision's dry run too")
}

// With the worker in the process, the approval enqueues through it and the
// worker sends the change to Cloud Manager.
func TestApprovalEnqueuesSubmissionWithWorker(t *testing.T) {
	pool, cfg, syncer, _ := approvalStack(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	jobs, err := startWorker(t.Context(), pool, syncer, cfg, logger, metrics.New(pool, metrics.Options{}))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, jobs.Stop(ctx))
	})
	service, err := approvalsService(pool, jobs)
	require.NoError(t, err)
	r := approveStart(t, pool, syncer, service)
	require.Equal(t, 1, submitJobs(t, pool, r.ID))
	require.Eventually(t, func() bool {
		attempts, err := execution.AttemptList(t.Context(), pool, r.ID, r.Revision.Number)
		return err == nil && len(attempts) > 0
	}, 20*time.Second, 50*time.Millisecond, "the worker sends the change")
}
