package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// TestApprovalsThatExpireBeforeSendingGoBackToPending: an approved change
// whose approval expired while it waited is not sent: the submit job sends
// it back to pending. Approved afresh (the approver renews), it is queued
// anew at the back of its cluster's queue with a job of its own, and sent
// exactly once.
func TestApprovalsThatExpireBeforeSendingGoBackToPending(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()

	r := f.scaleUp(t, f.staging) // default policy: one approval
	f.approve(t, r, f.bob)
	var seq int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT seq FROM submissions WHERE request_id = $1`, r.ID).Scan(&seq))
	// Eight days pass before the worker gets to it.
	_, err := f.pool.Exec(ctx, `UPDATE approvals SET created_at = now() - interval '8 days' WHERE request_id = $1`, r.ID)
	require.NoError(t, err)

	f.start(t)
	require.Eventually(t, func() bool {
		got, err := approvals.Get(ctx, f.pool, r.ID)
		require.NoError(t, err)
		return got.State == approvals.StatePending
	}, 10*time.Second, 10*time.Millisecond)
	require.Zero(t, f.mutations(cloudapi.OpUpdateCluster, f.staging), "nothing is sent")
	require.Empty(t, f.attempts(t, r.ID))
	require.Equal(t, []audit.Action{audit.RequestCreated, audit.RequestApproved, audit.RequestUpdated}, f.actions(t, r.ID))
	var expiredAt *time.Time
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT approvals_expired_at FROM submissions WHERE request_id = $1`, r.ID).Scan(&expiredAt))
	require.NotNil(t, expiredAt)

	e, err := approvals.Evaluate(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Zero(t, e.Given())
	require.Len(t, e.Expired, 1)
	require.Equal(t, f.bob.UserID, e.Expired[0].Approver.ID)

	// Bob approves afresh: queued at the back, sent once.
	f.approve(t, r, f.bob)
	done := f.wait(t, r.ID)
	require.Equal(t, approvals.StateSucceeded, done.State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging), "sent exactly once")
	require.Equal(t, []string{"accepted"}, f.attempts(t, r.ID))
	var newSeq int64
	var requeues int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT seq, requeues, approvals_expired_at FROM submissions WHERE request_id = $1`, r.ID).
		Scan(&newSeq, &requeues, &expiredAt))
	require.Greater(t, newSeq, seq, "at the back of the queue")
	require.Equal(t, 1, requeues)
	require.Nil(t, expiredAt)
	var jobs int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'submit' AND (args->>'request_id')::bigint = $1`, r.ID).Scan(&jobs))
	require.Equal(t, 2, jobs, "the fresh approval's job is one of its own")
	acts := f.actions(t, r.ID)
	require.Equal(t, 1, count(acts, audit.SubmissionStarted))
	require.Equal(t, 2, count(acts, audit.RequestApproved))
	f.verified(t)
}
