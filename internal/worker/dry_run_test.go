package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// dryRunCalls counts the dry runs the simulator received for op.
func (f *subFixture) dryRunCalls(op cloudapi.Operation) int {
	n := 0
	for _, c := range f.sim.Calls() {
		if c.Operation == op && !c.Mutated {
			n++
		}
	}
	return n
}

// withDryRuns replaces the fixture's worker (not started yet) by one
// that runs dry runs in the background.
func (f *subFixture) withDryRuns(t *testing.T) {
	t.Helper()
	w, err := New(f.pool, slog.New(slog.DiscardHandler), Options{
		AuditVerifyInterval: time.Hour, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		Execution: &execution.Options{
			API: f.client, Inventory: f.syncer, MaxAttempts: 4,
			RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
			BusyWait: 30 * time.Millisecond, SettleTime: 300 * time.Millisecond, TrackInterval: 20 * time.Millisecond, TrackTimeout: 20 * time.Second,
		},
		DryRunInterval: time.Hour, // the periodic job runs at start only
	})
	require.NoError(t, err)
	f.worker = w
}

// A revision whose own dry-run job was lost is caught by the periodic
// job once DryRunGrace has passed.
func TestTheWorkerDryRunsALostRevisionInTheBackground(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	f.withDryRuns(t)
	ctx := context.Background()
	r := f.scaleUp(t, f.staging) // filed without the OnRevision hook
	due, err := approvals.DryRunsDue(ctx, f.pool, 10)
	require.NoError(t, err)
	require.Empty(t, due, "its own job has DryRunGrace to run it")
	_, err = f.pool.Exec(ctx, `UPDATE request_revisions SET created_at = created_at - $1::interval`, approvals.DryRunGrace)
	require.NoError(t, err)
	due, err = approvals.DryRunsDue(ctx, f.pool, 10)
	require.NoError(t, err)
	require.Equal(t, []int64{r.ID}, due)
	f.sim.ResetCalls()

	f.start(t) // the dry-run job runs at start
	var d approvals.DryRunResult
	require.Eventually(t, func() bool {
		d, err = approvals.DryRunGet(ctx, f.pool, r.ID, r.Revision.Number)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	require.Empty(t, d.Error)
	require.Empty(t, d.Violations, "the simulator accepts the change")
	cl, err := inventory.ClusterGet(ctx, f.pool, f.staging)
	require.NoError(t, err)
	require.Equal(t, cl.ResourceVersion, d.ResourceVersion, "run against the cluster's version")
	require.Equal(t, 1, f.dryRunCalls(cloudapi.OpUpdateCluster))
	require.Zero(t, f.mutations(cloudapi.OpUpdateCluster, f.staging), "a dry run changes nothing")

	due, err = approvals.DryRunsDue(ctx, f.pool, 10)
	require.NoError(t, err)
	require.Empty(t, due, "not due again while nothing moved")
}

func TestAFailedDryRunIsStoredAndDueAgainLater(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	r := f.scaleUp(t, f.staging)
	unreachable, err := cloudapi.New(cloudapi.Config{BaseURL: "http://127.0.0.1:1/api/v1", TokenURL: f.tokenURL,
		ClientID: "clusterdesk", ClientSecret: "clusterdesk-sim-secret", Retry: cloudapi.RetryPolicy{MaxAttempts: 1}})
	require.NoError(t, err)
	d, err := approvals.RunDryRun(ctx, f.pool, unreachable, r.ID)
	require.NoError(t, err, "the failure is stored, not returned")
	require.NotEmpty(t, d.Error)
	due, err := approvals.DryRunsDue(ctx, f.pool, 10)
	require.NoError(t, err)
	require.Empty(t, due, "not before DryRunRetryAfter")

	_, err = f.pool.Exec(ctx, `UPDATE request_dry_runs SET checked_at = checked_at - $1::interval`, approvals.DryRunRetryAfter)
	require.NoError(t, err)
	due, err = approvals.DryRunsDue(ctx, f.pool, 10)
	require.NoError(t, err)
	require.Equal(t, []int64{r.ID}, due)
	d, err = approvals.RunDryRun(ctx, f.pool, f.client, r.ID)
	require.NoError(t, err)
	require.Empty(t, d.Error)
	stored, err := approvals.DryRunGet(ctx, f.pool, r.ID, r.Revision.Number)
	require.NoError(t, err)
	require.Empty(t, stored.Error, "the later answer replaces the failure")
}

func TestFilingARequestQueuesItsDryRun(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	f.withDryRuns(t)
	f.svc = approvals.New(f.pool, approvals.Config{OnApproved: f.worker.OnApproved, OnRevision: f.worker.OnRevision})
	r := f.scaleUp(t, f.staging)
	var args []string
	rows, err := f.pool.Query(ctx, `SELECT args::text FROM river_job WHERE kind = 'request_dry_run'`)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		args = append(args, a)
	}
	require.NoError(t, rows.Err())
	require.Len(t, args, 1, "inserted with the request")
	require.JSONEq(t, `{"request_id": `+strconv.FormatInt(r.ID, 10)+`, "revision": 1}`, args[0])

	// The job itself (the periodic one is left out: nothing else is due
	// once it ran).
	conn, err := f.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "LISTEN "+inventory.NotifyChannel)
	require.NoError(t, err)
	w := &requestDryRunWorker{pool: f.pool, api: f.client, logger: slog.New(slog.DiscardHandler)}
	require.NoError(t, w.Work(ctx, &river.Job[RequestDryRunArgs]{Args: RequestDryRunArgs{RequestID: r.ID, Revision: 1}}))
	d, err := approvals.DryRunGet(ctx, f.pool, r.ID, 1)
	require.NoError(t, err)
	require.Empty(t, d.Error)
	// The request's pages hear of it and redraw.
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(wait)
	require.NoError(t, err)
	var said approvals.RequestNotification
	require.NoError(t, json.Unmarshal([]byte(n.Payload), &said))
	require.Equal(t, approvals.RequestNotification{Type: "request", ID: r.ID, State: approvals.StatePending,
		Revision: 1, ClusterUID: f.staging}, said)
	calls := f.dryRunCalls(cloudapi.OpUpdateCluster)
	require.NoError(t, w.Work(ctx, &river.Job[RequestDryRunArgs]{Args: RequestDryRunArgs{RequestID: r.ID, Revision: 1}}))
	require.Equal(t, calls, f.dryRunCalls(cloudapi.OpUpdateCluster), "checked once")
	require.NoError(t, w.Work(ctx, &river.Job[RequestDryRunArgs]{Args: RequestDryRunArgs{RequestID: r.ID, Revision: 7}}))
	require.Equal(t, calls, f.dryRunCalls(cloudapi.OpUpdateCluster), "a superseded revision is not checked")
}

func TestOnRevisionNeedsDryRunsConfigured(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	svc := approvals.New(f.pool, approvals.Config{OnRevision: f.worker.OnRevision})
	c, spec := f.specOf(t, f.staging)
	n := *spec.Data.Tier1.Replicas + 1
	spec.Data.Tier1.Replicas = &n
	_, err := svc.Create(context.Background(), f.alice, approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.staging,
		Reason: "more capacity", Spec: &spec, SeenResourceVersion: &c.ResourceVersion})
	require.ErrorContains(t, err, "dry runs are not configured")
}
