package worker

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/execution"
)

// The fault tests of issue 7 around processes and connections: a process
// that dies mid-call or before its job runs, a token endpoint that is
// down, a client that retries inside a call, a cluster changed between two
// attempts.

// A process that died mid-call leaves an attempt without an answer; once
// it is older than InFlightTimeout the next run takes its outcome as
// unknown and reconciles, so a change the dead process did send is not
// sent again (F10, with the death played by hand: River's rescue of the
// running job is River's).
func TestSubmitReconcilesAfterAProcessDiedMidCall(t *testing.T) {
	t.Parallel()
	for _, applied := range []bool{true, false} {
		name := "the call had applied the change"
		if !applied {
			name = "the call never arrived"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setupSubmission(t)
			ctx := context.Background()
			r := f.scaleUp(t, f.staging)
			f.approve(t, r, f.bob)

			// The dead process had moved the request on, recorded its attempt
			// long ago, and (maybe) sent the PATCH.
			patch, err := r.Revision.Patch()
			require.NoError(t, err)
			err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
				if _, err := approvals.Transition(ctx, tx, r.ID, approvals.StateSubmitting); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO submission_attempts (request_id, revision, attempt, operation, request_digest, started_at)
					VALUES ($1, 1, 1, 'updateCluster', $2, now() - interval '1 hour')`, r.ID, make([]byte, 32))
				return err
			})
			require.NoError(t, err)
			if applied {
				_, err = f.client.UpdateCluster(ctx, f.staging, patch)
				require.NoError(t, err)
			}
			f.start(t)

			require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
			require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
			actions := f.actions(t, r.ID)
			if applied {
				require.Equal(t, []string{"unknown"}, f.attempts(t, r.ID))
				require.Equal(t, 1, count(actions, audit.SubmissionReconciled))
			} else {
				require.Equal(t, []string{"unknown", "accepted"}, f.attempts(t, r.ID))
				require.Equal(t, 1, count(actions, audit.SubmissionSucceeded))
			}
			f.verified(t)
		})
	}
}

// The token endpoint is down for a while (F7): reads and attempts back off
// without being abandoned, and the change goes through once it is back.
func TestSubmitWaitsForTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	f.sim.ExpireTokens()
	f.sim.InjectFault(sim.Fault{Operation: sim.OpToken, Status: 503, Times: 6})
	f.start(t)

	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	require.Empty(t, f.sim.Faults(), "every injected token failure was met")
	f.verified(t)
}

// The approval committed, then the process died before any worker took
// the job (F9): a new process finds the job and applies the change once.
func TestSubmitJobSurvivesARestartAfterTheApproval(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob) // f.worker never starts: the process that approved is gone

	restarted, err := New(f.pool, slog.New(slog.DiscardHandler), Options{
		AuditVerifyInterval: time.Hour, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		Execution: &execution.Options{API: f.client, Inventory: f.syncer,
			RetryBase: 20 * time.Millisecond, BusyWait: 30 * time.Millisecond, SettleTime: 300 * time.Millisecond, TrackInterval: 20 * time.Millisecond},
	})
	require.NoError(t, err)
	f.worker = restarted
	f.start(t)

	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	f.verified(t)
}

// With an API client that retries inside one call, a dropped answer is
// followed by the 409 of the change it applied: the worker sees "busy",
// not "unknown", and must still reconcile instead of calling it stale.
func TestSubmitReconcilesBehindARetryingClient(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	retrying, err := cloudapi.New(cloudapi.Config{
		BaseURL: f.apiURL, TokenURL: f.tokenURL, ClientID: "clusterdesk", ClientSecret: "clusterdesk-sim-secret",
		Timeout: 300 * time.Millisecond,
		Retry:   cloudapi.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
	})
	require.NoError(t, err)
	f.rebuild(t, func(o *execution.Options) { o.API = retrying })
	f.sim.PauseUpdates() // the applied change keeps the cluster busy
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, ApplyThenDrop: true, Times: 1})
	f.start(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	require.Eventually(t, func() bool {
		outcomes := f.attempts(t, r.ID)
		return len(outcomes) > 0 && outcomes[0] == "busy"
	}, 10*time.Second, 5*time.Millisecond)
	f.sim.ResumeUpdates()

	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	require.Equal(t, []string{"busy"}, f.attempts(t, r.ID))
	require.Equal(t, 1, count(f.actions(t, r.ID), audit.SubmissionReconciled))
	f.verified(t)
}

// The cluster is changed outside between two attempts of a change (the
// first got a 503): the next attempt finds the change not there and the
// cluster moved, so the request goes back to its requester to rebase
// instead of failing; nothing more is sent.
func TestSubmitMarksStaleAChangeOvertakenBetweenAttempts(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	f.rebuild(t, func(o *execution.Options) { o.RetryBase, o.RetryMax = 2*time.Second, 2*time.Second })
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, Status: 503, Times: 1})
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	f.start(t)
	require.Eventually(t, func() bool { return slices.Equal(f.attempts(t, r.ID), []string{"unknown"}) },
		10*time.Second, 10*time.Millisecond, "the first attempt got its 503")

	_, err := f.client.UpdateCluster(ctx, f.staging, []byte(`{"spec":{"metadataStore":{"backupRetention":8}}}`))
	require.NoError(t, err)

	require.Equal(t, approvals.StateStale, f.wait(t, r.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging), "only the outside change")
	require.Equal(t, []string{"unknown"}, f.attempts(t, r.ID), "nothing more was sent")
	require.Contains(t, f.actions(t, r.ID), audit.RequestStale)
	f.verified(t)
}
