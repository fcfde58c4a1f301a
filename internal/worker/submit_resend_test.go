package worker

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// A change abandoned after its retry budget is sent again by an admin once
// Cloud Manager is back: it goes through once, with a fresh budget, and
// the resend is audited. Nobody else may resend, and nothing but a failed
// change the API never accepted is resent.
func TestResendAFailedChange(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	admin := f.user(t, "dana", true, "admins")
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, Status: 502})
	f.start(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	require.Equal(t, approvals.StateFailed, f.wait(t, r.ID).State)
	require.Zero(t, f.mutations(cloudapi.OpUpdateCluster, f.staging))

	_, err := f.worker.Resend(ctx, f.bob, r.ID, "")
	require.ErrorIs(t, err, approvals.ErrForbidden, "an approver is not an admin")
	_, err = f.worker.Resend(ctx, f.alice, r.ID, "")
	require.ErrorIs(t, err, approvals.ErrForbidden, "nor is the requester")

	f.sim.ClearFaults()
	// As the web process resends: with an insert-only client, which also
	// queues the notification.
	resend, err := Resender(f.pool)
	require.NoError(t, err)
	resent, err := resend(ctx, admin, r.ID, "the API is back")
	require.NoError(t, err)
	require.Equal(t, approvals.StateApproved, resent.State)
	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging), "sent once")
	require.Equal(t, []string{"unknown", "unknown", "unknown", "unknown", "accepted"}, f.attempts(t, r.ID),
		"the budget started afresh")
	require.Contains(t, f.actions(t, r.ID), audit.SubmissionResent)
	// The resend's audit event is the notification's outbox entry.
	ins, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{})
	require.NoError(t, err)
	for n := 1; n > 0; {
		_, err := audit.Chain(ctx, f.pool)
		require.NoError(t, err)
		n, err = notify.Relay(ctx, f.pool, ins)
		require.NoError(t, err)
	}
	var told int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'notify_event'
		AND args->>'action' = 'submission.resent' AND (args->>'request_id')::bigint = $1`, r.ID).Scan(&told))
	require.Equal(t, 1, told, "the resend is told of once")

	_, err = f.worker.Resend(ctx, admin, r.ID, "")
	require.ErrorIs(t, err, approvals.ErrInvalidTransition, "a succeeded request is not sent again")
	f.verified(t)
}

func TestResendRefusesWhatIsNotAFailedUnacceptedChange(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	admin := f.user(t, "dana", true, "admins")

	pending := f.scaleUp(t, f.staging)
	_, err := f.worker.Resend(ctx, admin, pending.ID, "")
	require.ErrorIs(t, err, approvals.ErrInvalidTransition, "resending is no way around approval")
	got, err := approvals.Get(ctx, f.pool, pending.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StatePending, got.State)

	// A change Cloud Manager accepted and the cluster then failed to apply.
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, Status: 502})
	f.start(t)
	f.approve(t, pending, f.bob)
	require.Equal(t, approvals.StateFailed, f.wait(t, pending.ID).State)
	_, err = f.pool.Exec(ctx, `UPDATE submissions SET accepted_at = now() WHERE request_id = $1`, pending.ID)
	require.NoError(t, err)
	_, err = f.worker.Resend(ctx, admin, pending.ID, "")
	require.ErrorIs(t, err, execution.ErrAccepted)
	got, err = approvals.Get(ctx, f.pool, pending.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StateFailed, got.State)
}
