package inventory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// statementCounter counts the statements a pool sends, batched ones
// included (pgx.QueryTracer and pgx.BatchTracer).
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.n.Add(1)
}

func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// scaleFixture is a simulator with many clusters and a Syncer writing
// through a one-connection pool that counts its statements: one backend,
// so that its table statistics can be flushed on demand.
type scaleFixture struct {
	sim        *sim.Server
	client     *cloudapi.Client
	pool       *pgxpool.Pool
	statements *statementCounter
	api        *timedAPI
	syncer     *inventory.Syncer
}

// setupScale serves a simulator holding n seeded clusters and no others.
func setupScale(tb testing.TB, n int) *scaleFixture {
	tb.Helper()
	s, err := sim.New(sim.Config{StageDuration: 5 * time.Millisecond})
	require.NoError(tb, err)
	server := httptest.NewServer(s)
	tb.Cleanup(func() {
		server.Close()
		_ = s.Close()
	})
	s.SeedClusters("load", n)
	f := &scaleFixture{sim: s, client: simtest.Client(tb, s, server.URL), statements: &statementCounter{}}
	config := testdb.New(tb).Config()
	config.MaxConns = 1
	config.ConnConfig.Tracer = f.statements
	f.pool, err = pgxpool.NewWithConfig(context.Background(), config)
	require.NoError(tb, err)
	tb.Cleanup(f.pool.Close)
	f.api = &timedAPI{client: f.client}
	f.syncer = inventory.NewSyncer(f.pool, f.api, inventory.Config{})
	return f
}

// timedAPI is the client, timing its list calls: a cycle's time is mostly
// the list (one call, every cluster's documents) and its decoding.
type timedAPI struct {
	client *cloudapi.Client
	listed atomic.Int64 // nanoseconds spent in ListClusters
}

func (a *timedAPI) ListClusters(ctx context.Context, opts ...cloudapi.Option) ([]cloudapi.Cluster, error) {
	start := time.Now()
	defer func() { a.listed.Add(int64(time.Since(start))) }()
	return a.client.ListClusters(ctx, opts...)
}

func (a *timedAPI) GetCluster(ctx context.Context, id string, opts ...cloudapi.Option) (*cloudapi.Cluster, error) {
	return a.client.GetCluster(ctx, id, opts...)
}

func (a *timedAPI) GetClusterVersion(ctx context.Context, id string, rv int64) (*cloudapi.Cluster, error) {
	return a.client.GetClusterVersion(ctx, id, rv)
}

// cycle runs one sync and returns its result and statements.
func (f *scaleFixture) cycle(tb testing.TB) (inventory.Result, int64) {
	tb.Helper()
	before := f.statements.n.Load()
	r, err := f.syncer.Sync(context.Background())
	require.NoError(tb, err)
	return r, f.statements.n.Load() - before
}

// clusterRowWrites is n_tup_upd + n_tup_ins of the clusters table as
// PostgreSQL counts it, after the pool's one backend flushed its counts.
func (f *scaleFixture) clusterRowWrites(t *testing.T) (updated, inserted int64) {
	t.Helper()
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, "SELECT pg_stat_force_next_flush()")
	require.NoError(t, err)
	// The flush happens when the backend goes idle after that statement;
	// the read below starts a fresh snapshot of the statistics.
	_, err = f.pool.Exec(ctx, "SELECT pg_stat_clear_snapshot()")
	require.NoError(t, err)
	require.NoError(t, f.pool.QueryRow(ctx,
		"SELECT n_tup_upd, n_tup_ins FROM pg_stat_user_tables WHERE relname = 'clusters'").Scan(&updated, &inserted))
	return updated, inserted
}

// rowVersions is every cluster row's xmin: an update of a row changes it.
func (f *scaleFixture) rowVersions(t *testing.T) map[string]string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), "SELECT uid, xmin::text FROM clusters")
	require.NoError(t, err)
	out := map[string]string{}
	var uid, xmin string
	_, err = pgx.ForEachRow(rows, []any{&uid, &xmin}, func() error { out[uid] = xmin; return nil })
	require.NoError(t, err)
	return out
}

func TestSyncOfThousandsOfUnchangedClustersRewritesNoRow(t *testing.T) {
	t.Parallel()
	const n = 3000
	f := setupScale(t, n)
	ctx := context.Background()

	r, _ := f.cycle(t)
	require.Equal(t, inventory.Result{Listed: n, Created: n}, r)
	first, err := inventory.ClusterByName(ctx, f.pool, "load-0001")
	require.NoError(t, err)
	envs, err := inventory.Environments(ctx, f.pool)
	require.NoError(t, err)
	require.Equal(t, []string{"load"}, envs)
	updated, inserted := f.clusterRowWrites(t)
	require.Equal(t, int64(n), inserted)
	xmins := f.rowVersions(t)

	r, statements := f.cycle(t)
	require.Equal(t, inventory.Result{Listed: n, Unchanged: n}, r)
	require.Less(t, statements, int64(20), "an unchanged cycle costs a handful of statements")
	t.Logf("an unchanged cycle over %d clusters: %d statements", n, statements)
	updatedAfter, insertedAfter := f.clusterRowWrites(t)
	require.Equal(t, updated, updatedAfter, "no row rewritten (n_tup_upd)")
	require.Equal(t, inserted, insertedAfter)
	require.Equal(t, xmins, f.rowVersions(t), "no row has a new version")

	// "Last synced" still says the second run saw the cluster.
	again, err := inventory.ClusterByName(ctx, f.pool, "load-0001")
	require.NoError(t, err)
	require.True(t, again[0].SyncedAt.After(first[0].SyncedAt))
	require.Equal(t, first[0].ChangedAt, again[0].ChangedAt)
	list, err := inventory.ClusterList(ctx, f.pool, inventory.Filter{Name: "load-0001"})
	require.NoError(t, err)
	require.Equal(t, again[0].SyncedAt, list[0].SyncedAt, "the list says the same")

	// One cluster changes: one row written.
	f.sim.PauseUpdates()
	_, err = f.client.UpdateCluster(ctx, first[0].UID, json.RawMessage(`{"spec":{"query":{"replicas":2}}}`))
	require.NoError(t, err)
	r, statements = f.cycle(t)
	f.sim.ResumeUpdates()
	require.Equal(t, inventory.Result{Listed: n, Updated: 1, Unchanged: n - 1}, r)
	require.Less(t, statements, int64(20))
	updatedChanged, _ := f.clusterRowWrites(t)
	require.Equal(t, updated+1, updatedChanged, "one row written")
	changed := f.rowVersions(t)
	require.NotEqual(t, xmins[first[0].UID], changed[first[0].UID])
	delete(changed, first[0].UID)
	delete(xmins, first[0].UID)
	require.Equal(t, xmins, changed, "no other row has a new version")
}

func TestEnvironmentsFollowTheClusters(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.sync(t)
	envs := func() []string {
		t.Helper()
		list, err := inventory.Environments(ctx, f.pool)
		require.NoError(t, err)
		return list
	}
	require.Equal(t, []string{"development", "production", "staging"}, envs())

	// prod moves to staging: production goes.
	prod := f.byName(t, "analytics-prod")
	_, err := f.client.UpdateCluster(ctx, prod.UID, json.RawMessage(`{"spec":{"awsTags":[{"name":"env","value":"staging"}]}}`))
	require.NoError(t, err)
	f.sync(t)
	require.Equal(t, []string{"development", "staging"}, envs())

	// The only development cluster is deleted: development goes.
	dev := f.byName(t, "clickstream-dev")
	require.NoError(t, f.client.DeleteCluster(ctx, dev.UID))
	f.sync(t)
	require.Equal(t, []string{"staging"}, envs())
}

func TestSyncedAtStaysTheLastReadOfADeletedCluster(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.sync(t)
	f.sync(t)
	dev := f.byName(t, "clickstream-dev")
	require.NoError(t, f.client.DeleteCluster(ctx, dev.UID))
	f.sync(t)
	gone, err := inventory.ClusterGet(ctx, f.pool, dev.UID)
	require.NoError(t, err)
	require.True(t, gone.Deleted())
	require.Equal(t, dev.SyncedAt, gone.SyncedAt, "the run that last saw it")
	f.sync(t)
	gone, err = inventory.ClusterGet(ctx, f.pool, dev.UID)
	require.NoError(t, err)
	require.Equal(t, dev.SyncedAt, gone.SyncedAt, "later runs do not see it")
}

// BenchmarkSyncCycle is one sync cycle of n unchanged clusters; it
// reports the statements per cycle (B8: a handful, whatever n) and the
// part of ns/op spent in the list call (the API's one call, with every
// cluster's documents, and their decoding).
func BenchmarkSyncCycle(b *testing.B) {
	for _, n := range []int{30, 300, 3000} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			f := setupScale(b, n)
			f.cycle(b) // the first sees every cluster new
			f.api.listed.Store(0)
			var statements int64
			for b.Loop() {
				r, s := f.cycle(b)
				if r.Unchanged != n {
					b.Fatalf("a cycle found changes: %+v", r)
				}
				statements += s
			}
			b.ReportMetric(float64(statements)/float64(b.N), "statements/cycle")
			b.ReportMetric(float64(f.api.listed.Load())/float64(b.N), "list-ns/cycle")
		})
	}
}
