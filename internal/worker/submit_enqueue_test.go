package worker

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/execution"
)

func (f *subFixture) submitJobs(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'submit'`).Scan(&n))
	return n
}

// The approval, its audit event, the queue entry and the job commit
// together: when anything after the enqueue fails, none of them exists
// (F8, the crash before the commit played by an error).
func TestOnApprovedEnqueuesInTheApprovingTransaction(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	failing := approvals.New(f.pool, approvals.Config{OnApproved: func(ctx context.Context, tx pgx.Tx, r approvals.Request) error {
		if err := f.worker.OnApproved(ctx, tx, r); err != nil {
			return err
		}
		return errors.New("the process died before the commit")
	}})
	r := f.scaleUp(t, f.staging)
	_, err := failing.Approve(ctx, f.bob, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: r.Revision.BaseResourceVersion})
	require.ErrorContains(t, err, "died before the commit")

	got, err := approvals.Get(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StatePending, got.State)
	require.Zero(t, f.submitJobs(t))
	pos, err := execution.QueuePosition(ctx, f.pool, r.ID, 1)
	require.NoError(t, err)
	require.Zero(t, pos)
	require.Equal(t, []audit.Action{audit.RequestCreated}, f.actions(t, r.ID))

	// The same approval through the real hook commits all of it.
	f.approve(t, r, f.bob)
	require.Equal(t, 1, f.submitJobs(t))
	pos, err = execution.QueuePosition(ctx, f.pool, r.ID, 1)
	require.NoError(t, err)
	require.Equal(t, 1, pos)
}

// Two approvers click at once on a request that needs one approval (F13):
// one approval completes it, one job is queued, one change is applied.
func TestConcurrentApprovalsQueueOneJob(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	r := f.scaleUp(t, f.staging)
	outcomes := make([]approvals.Outcome, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, a := range []approvals.Actor{f.bob, f.carol} {
		wg.Go(func() {
			outcomes[i], errs[i] = f.svc.Approve(ctx, a, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: r.Revision.BaseResourceVersion})
		})
	}
	wg.Wait()
	completed := 0
	for i := range errs {
		if errs[i] == nil && outcomes[i].Completed {
			completed++
		}
	}
	require.Equal(t, 1, completed, "errors: %v", errs)
	require.Equal(t, 1, f.submitJobs(t))

	f.start(t)
	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	f.verified(t)
}

// A process that approves but runs no jobs queues the change with
// Enqueuer; a worker process elsewhere applies it.
func TestEnqueuerForAProcessWithoutWorkers(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	hook, err := Enqueuer(f.pool)
	require.NoError(t, err)
	f.svc = approvals.New(f.pool, approvals.Config{OnApproved: hook})
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	require.Equal(t, 1, f.submitJobs(t))

	f.start(t)
	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
}
