package handlers

import (
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/worker"
)

// An admin sees "Send the change again" on a failed request whose change
// Cloud Manager never accepted, and the form puts it back in line; others
// see no form and are refused.
func TestRequestResendByAnAdmin(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	resend, err := worker.Resender(f.pool)
	require.NoError(t, err)
	f.server.deps.Resend = resend

	alice, aliceID := f.signedIn("alice")
	bob, _ := f.signedIn("bob")
	dave, _ := f.signedIn("dave") // admins
	r := f.failedStop(aliceID, bob)

	aliceSees := alice.get(requestPath(r.ID)).body
	require.NotContains(t, aliceSees, `data-testid="resend-form"`)
	require.NotContains(t, aliceSees, `data-testid="cancel-form"`, "only an admin closes a failed request")
	require.Equal(t, http.StatusForbidden, alice.postOnce(requestPath(r.ID, "cancel"), decisionValues(alice, 1, "")).status)
	require.Contains(t, dave.get(requestPath(r.ID)).body, `data-testid="cancel-form"`, "an admin may close it instead")
	require.NotContains(t, bob.get(requestPath(r.ID)).body, `data-testid="resend-form"`)
	require.Contains(t, dave.get(requestPath(r.ID)).body, `data-testid="resend-form"`)

	require.Equal(t, http.StatusForbidden, bob.postOnce(requestPath(r.ID, "resend"), decisionValues(bob, 1, "")).status)
	require.Equal(t, approvals.StateFailed, f.state(r.ID))

	res := dave.postOnce(requestPath(r.ID, "resend"), decisionValues(dave, 1, "the API is back"))
	require.Equal(t, http.StatusSeeOther, res.status, res.body)
	require.Equal(t, approvals.StateApproved, f.state(r.ID))
	require.Equal(t, 1, f.count(`SELECT count(*) FROM river_job WHERE kind = 'submit' AND (args->>'resend')::int = 1`))

	again := dave.postOnce(requestPath(r.ID, "resend"), decisionValues(dave, 1, ""))
	require.Equal(t, http.StatusConflict, again.status, "a second click finds it approved")
}

// An admin closes a failed change instead of sending it again.
func TestRequestCloseAFailedChange(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	bob, _ := f.signedIn("bob")
	dave, _ := f.signedIn("dave")
	r := f.failedStop(aliceID, bob)
	form := decisionValues(dave, 1, "not needed any more")
	form.Set("confirm", "yes")
	res := dave.postOnce(requestPath(r.ID, "cancel"), form)
	require.Equal(t, http.StatusSeeOther, res.status, res.body)
	require.Equal(t, approvals.StateCancelled, f.state(r.ID))
}

// failedStop is a stop of analytics-staging filed by alice, approved by
// bob, that the worker gave up on (played here: no worker runs in these
// tests).
func (f *decideFixture) failedStop(aliceID int64, bob *browser) approvals.Request {
	f.t.Helper()
	r := f.file(aliceID, "Alice", approvals.KindStop, "analytics-staging", "nightly savings")
	require.Equal(f.t, http.StatusSeeOther, bob.postOnce(requestPath(r.ID, "approve"), decisionValues(bob, 1, "")).status)
	require.NoError(f.t, pgx.BeginFunc(f.t.Context(), f.pool, func(tx pgx.Tx) error {
		for _, to := range []approvals.State{approvals.StateSubmitting, approvals.StateFailed} {
			if _, err := approvals.Transition(f.t.Context(), tx, r.ID, to); err != nil {
				return err
			}
		}
		return nil
	}))
	return r
}
