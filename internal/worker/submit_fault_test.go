package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/execution"
)

// The fault tests of issue 7 (part D of the performance and security
// anchor): each injects one fault into the simulator over real HTTP and
// checks the oracle (the simulator's effective mutations), the request's
// final state and the audit chain.

func TestSubmitRetriesServerErrors(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, Status: 503, Times: 2})
	f.start(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)

	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	require.Equal(t, []string{"unknown", "unknown", "accepted"}, f.attempts(t, r.ID))
	list, err := execution.AttemptList(context.Background(), f.pool, r.ID, r.Revision.Number)
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.Equal(t, 503, list[0].Status)
	require.Contains(t, list[0].Error, "Service Unavailable")
	require.Equal(t, 200, list[2].Status)
	require.False(t, list[2].FinishedAt.Before(list[2].StartedAt))
	actions := f.actions(t, r.ID)
	require.Equal(t, 2, count(actions, audit.SubmissionRetried), "each failed attempt is audited")
	require.Equal(t, 1, count(actions, audit.SubmissionSucceeded))
	f.verified(t)
}

func TestSubmitReconcilesAChangeAppliedWithoutAnAnswer(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, ApplyThenDrop: true, Times: 1})
	f.start(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)

	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging), "applied once, never sent again")
	require.Equal(t, []string{"unknown"}, f.attempts(t, r.ID))
	actions := f.actions(t, r.ID)
	require.Equal(t, 1, count(actions, audit.SubmissionReconciled))
	require.Zero(t, count(actions, audit.SubmissionSucceeded)+count(actions, audit.SubmissionFailed))
	require.Equal(t, audit.SubmissionApplied, actions[len(actions)-1])
	f.verified(t)
}

func TestSubmitRetriesATimeoutBeforeApplying(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	// The first call hangs past the client's 300 ms deadline and is then
	// dropped without being handled.
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, Latency: 600 * time.Millisecond, Drop: true, Times: 1})
	f.start(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)

	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	require.Equal(t, []string{"unknown", "accepted"}, f.attempts(t, r.ID))
	f.verified(t)
}

func TestSubmitWaitsWhileTheClusterIsBusy(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)

	// Someone restarts a server outside the portal (no new resource
	// version) and the update holds: the cluster answers 409.
	f.sim.PauseUpdates()
	live, err := f.client.GetCluster(ctx, f.staging)
	require.NoError(t, err)
	require.NoError(t, f.client.RestartServer(ctx, f.staging, live.Status.Servers[0].InstanceID))
	f.start(t)
	require.Eventually(t, func() bool {
		n := 0
		for _, o := range f.attempts(t, r.ID) {
			if o == "busy" {
				n++
			}
		}
		return n > 4 // more than the budget
	}, 10*time.Second, 10*time.Millisecond)
	got, err := approvals.Get(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StateSubmitting, got.State, "a busy cluster is waited for, not failed")

	f.sim.ResumeUpdates()
	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	outcomes := f.attempts(t, r.ID)
	require.Equal(t, "accepted", outcomes[len(outcomes)-1])
	f.verified(t)
}

func TestSubmitRefreshesAnExpiredToken(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	f.sim.ExpireTokens()
	f.start(t)

	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	require.Equal(t, []string{"accepted"}, f.attempts(t, r.ID))
	f.verified(t)
}

func TestSubmitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, Status: 429, RetryAfter: time.Second, Times: 1})
	f.start(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)

	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	require.Equal(t, []string{"rate_limited", "accepted"}, f.attempts(t, r.ID))
	var gap time.Duration
	require.NoError(t, f.pool.QueryRow(context.Background(), `
		SELECT (SELECT started_at FROM submission_attempts WHERE request_id = $1 AND attempt = 2) -
		       (SELECT finished_at FROM submission_attempts WHERE request_id = $1 AND attempt = 1)`, r.ID).Scan(&gap))
	require.GreaterOrEqual(t, gap, 900*time.Millisecond, "the second attempt waited for Retry-After")
	f.verified(t)
}

func TestSubmitMarksStaleAChangeMadeOutside(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	// Changed in the Imply Manager after the approval, before submission.
	_, err := f.client.UpdateCluster(ctx, f.staging, []byte(`{"spec":{"metadataStore":{"backupRetention":8}}}`))
	require.NoError(t, err)
	f.start(t)

	require.Equal(t, approvals.StateStale, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging), "only the outside change")
	require.Empty(t, f.attempts(t, r.ID), "nothing was sent")
	require.Equal(t, audit.RequestStale, f.actions(t, r.ID)[2])
	f.verified(t)
}

func TestSubmitFailsWithTheAPIsFieldMessages(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	f.reject400.Store(true)
	f.start(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)

	require.Equal(t, approvals.StateFailed, f.wait(t, r.ID).State)
	require.Zero(t, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	require.Equal(t, []string{"rejected"}, f.attempts(t, r.ID))
	sub, err := execution.SubmissionGet(context.Background(), f.pool, r.ID, r.Revision.Number)
	require.NoError(t, err)
	require.Contains(t, sub.Reason, "Invalid cluster configuration")
	require.Len(t, sub.FieldErrors, 1)
	require.Equal(t, "spec.data.tier1.instanceType", sub.FieldErrors[0].Target)
	require.Equal(t, "instance type is not offered in this region", sub.FieldErrors[0].Message)
	require.Equal(t, audit.SubmissionFailed, f.actions(t, r.ID)[3])
	f.verified(t)
}

func TestSubmitAbandonsAfterTheBudget(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, Status: 502})
	f.start(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)

	require.Equal(t, approvals.StateFailed, f.wait(t, r.ID).State)
	require.Zero(t, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	require.Len(t, f.attempts(t, r.ID), 4)
	sub, err := execution.SubmissionGet(context.Background(), f.pool, r.ID, r.Revision.Number)
	require.NoError(t, err)
	require.Contains(t, sub.Reason, "abandoned after 4 failed attempts")
	f.verified(t)
}

func TestSubmitSendsNothingForACancelledRequest(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	_, err := f.svc.Cancel(ctx, f.alice, r.ID, "not needed after all")
	require.NoError(t, err)
	f.start(t)

	// The job runs and finds nothing to do.
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'submit' AND state = 'completed'`).Scan(&n))
		return n == 1
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, approvals.StateCancelled, f.wait(t, r.ID).State)
	require.Zero(t, f.mutations(cloudapi.OpUpdateCluster, ""))
	require.Empty(t, f.attempts(t, r.ID))
	f.verified(t)
}
