package handlers

import (
	"html"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

func TestApprovalsQueueListsWhatTheViewerMayApprove(t *testing.T) {
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	prod := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-prod", "Cost review")
	dev := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Testing")

	carol, _ := f.signedIn("carol")
	page := carol.get("/approvals")
	require.Equal(t, http.StatusOK, page.status, page.body)
	body := html.UnescapeString(page.body)
	require.Contains(t, body, `data-id="`+strconv.FormatInt(prod.ID, 10)+`"`)
	require.Contains(t, body, `data-id="`+strconv.FormatInt(dev.ID, 10)+`"`)
	require.Contains(t, body, "analytics-prod")
	require.Contains(t, body, "Alice Anderson")
	require.Contains(t, body, "datetime=") // the age
	for _, risk := range prod.Revision.Risks {
		require.Contains(t, body, risk.Message)
	}

	// Once carol decided, the request leaves her queue.
	resp := carol.postOnce(requestPath(dev.ID, "approve"), decisionValues(carol, dev.Revision.Number, ""))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	require.NotContains(t, carol.get("/approvals").body, `data-id="`+strconv.FormatInt(dev.ID, 10)+`"`)

	// Requesters without the approver role do not get the queue.
	require.Equal(t, http.StatusForbidden, alice.get("/approvals").status)
}

func TestHomeShowsMyRequestsAwaitingAndRecent(t *testing.T) {
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Testing")
	id := `data-id="` + strconv.FormatInt(r.ID, 10) + `"`

	home := alice.get("/")
	require.Equal(t, http.StatusOK, home.status)
	require.Contains(t, home.body, `data-testid="home-mine"`)
	require.Contains(t, home.body, id)
	require.NotContains(t, home.body, `data-testid="home-awaiting`, "alice is no approver")
	require.NotContains(t, home.body, `data-testid="nav-approvals"`, "alice is no approver")
	require.Contains(t, home.body, `data-testid="home-recent"`)

	carol, _ := f.signedIn("carol")
	home = carol.get("/")
	require.Contains(t, home.body, `data-testid="home-awaiting"`)
	require.Contains(t, home.body, `data-testid="home-mine-empty"`)
	require.Contains(t, home.body, `data-testid="nav-approvals"`)
}

func TestRequestStaleClusterOffersNoApproval(t *testing.T) {
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-staging", "Weekend")
	// Someone changes the cluster in Cloud Manager behind the portal's back.
	_, err := f.client.UpdateCluster(t.Context(), r.ClusterUID, []byte(`{"spec":{"desiredState":"STOPPED"}}`))
	require.NoError(t, err)
	// The page reads the inventory, which the worker's next sync updates.
	_, err = f.syncer.Sync(t.Context())
	require.NoError(t, err)

	bob, _ := f.signedIn("bob")
	page := html.UnescapeString(bob.get(requestPath(r.ID)).body)
	require.Contains(t, page, "The cluster changed since this request was made")
	require.NotContains(t, page, `data-testid="approve-button"`)

	// A forged approval is refused and the request goes stale.
	resp := bob.postOnce(requestPath(r.ID, "approve"), decisionValues(bob, r.Revision.Number, ""))
	require.Equal(t, http.StatusConflict, resp.status, resp.body)
	require.Equal(t, approvals.StateStale, f.state(r.ID))
	require.Zero(t, f.count(`SELECT count(*) FROM river_job WHERE kind = 'submit'`))
}

func TestRequestApproveWhenCloudManagerIsDown(t *testing.T) {
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Testing")
	bob, _ := f.signedIn("bob")
	form := decisionValues(bob, r.Revision.Number, "")
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpGetCluster, Status: http.StatusServiceUnavailable})

	// The page reads the inventory's copy, so it still offers the
	// approval; the approval re-reads the cluster and stops.
	page := html.UnescapeString(bob.get(requestPath(r.ID)).body)
	require.Contains(t, page, "it has not changed since this request was made")
	require.Contains(t, page, `data-testid="approve-button"`)

	resp := bob.postOnce(requestPath(r.ID, "approve"), form)
	require.Equal(t, http.StatusServiceUnavailable, resp.status, resp.body)
	require.Contains(t, html.UnescapeString(resp.body), "nothing was approved")
	require.Equal(t, approvals.StatePending, f.state(r.ID))
	require.Zero(t, f.count(`SELECT count(*) FROM approvals WHERE request_id = $1`, r.ID))
}

func TestRequestApproveOfAnOlderRevisionIsAConflict(t *testing.T) {
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Testing")
	bob, _ := f.signedIn("bob")
	resp := bob.postOnce(requestPath(r.ID, "approve"), decisionValues(bob, r.Revision.Number+1, ""))
	require.Equal(t, http.StatusConflict, resp.status, resp.body)
	require.Equal(t, approvals.StatePending, f.state(r.ID))
}

func TestRequestDoubleSubmitsRedirect(t *testing.T) {
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Testing")
	carol, _ := f.signedIn("carol")
	form := decisionValues(carol, r.Revision.Number, "No, not this week")
	for range 2 {
		resp := carol.postOnce(requestPath(r.ID, "reject"), form)
		require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	}
	require.Equal(t, 1, f.count(`SELECT count(*) FROM approvals WHERE request_id = $1`, r.ID))
	require.Equal(t, approvals.StateRejected, f.state(r.ID))

	r2 := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Again")
	cancel := map[string][]string{"csrf_token": {alice.csrfToken()}, "confirm": {"yes"}}
	for range 2 {
		resp := alice.postOnce(requestPath(r2.ID, "cancel"), cancel)
		require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	}
	require.Equal(t, approvals.StateCancelled, f.state(r2.ID))
	require.NotContains(t, alice.get(requestPath(r2.ID)).body, `data-testid="cancel-form"`)
}

func TestRequestAdminMayCancelAnyRequest(t *testing.T) {
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Testing")
	dave, _ := f.signedIn("dave")
	require.Contains(t, dave.get(requestPath(r.ID)).body, `data-testid="cancel-form"`)
	resp := dave.postOnce(requestPath(r.ID, "cancel"), map[string][]string{"csrf_token": {dave.csrfToken()}, "confirm": {"yes"},
		"comment": {"an admin says why"}})
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	require.Equal(t, approvals.StateCancelled, f.state(r.ID))
}
