package handlers

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/worker"
)

// decideFixture is the cluster fixture with the request service wired as
// in `portal serve -web`: approvals that meet the policy enqueue their
// submission (worker.Enqueuer), and the page re-reads the live cluster.
type decideFixture struct {
	*clusterFixture
	service *approvals.Service
}

func newDecideFixture(t *testing.T) *decideFixture {
	t.Helper()
	f := &decideFixture{clusterFixture: newClusterFixture(t)}
	enqueue, err := worker.Enqueuer(f.pool)
	require.NoError(t, err)
	f.service = approvals.New(f.pool, approvals.Config{OnApproved: enqueue})
	// Set before the first request; the handlers read s.deps.
	f.server.deps.Approvals = f.service
	f.server.deps.Inventory = f.syncer
	return f
}

// signedIn returns a browser signed in as username and the user's id.
func (f *decideFixture) signedIn(username string) (*browser, int64) {
	f.t.Helper()
	b := f.browser()
	b.signIn(username, "/")
	var id int64
	require.NoError(f.t, f.pool.QueryRow(f.t.Context(), `SELECT id FROM users WHERE username = $1`, username).Scan(&id))
	return b, id
}

// file files a request of kind on the cluster named cluster as user id.
func (f *decideFixture) file(userID int64, name string, kind approvals.Kind, cluster, reason string) approvals.Request {
	f.t.Helper()
	r, err := f.service.Create(f.t.Context(), approvals.Actor{UserID: userID, Name: name, Groups: []string{"developers"},
		Origin: audit.Origin{IP: "192.0.2.1"}}, approvals.NewRequest{Kind: kind, ClusterUID: f.uid(cluster), Reason: reason})
	require.NoError(f.t, err)
	return r
}

func (f *decideFixture) state(id int64) approvals.State {
	f.t.Helper()
	r, err := approvals.Get(f.t.Context(), f.pool, id)
	require.NoError(f.t, err)
	return r.State
}

func (f *decideFixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	require.NoError(f.t, f.pool.QueryRow(f.t.Context(), sql, args...).Scan(&n))
	return n
}

func requestPath(id int64, action ...string) string {
	return "/requests/" + strconv.FormatInt(id, 10) + strings.Join(append([]string{""}, action...), "/")
}

func decisionValues(b *browser, revision int, comment string) url.Values {
	return url.Values{"csrf_token": {b.csrfToken()}, "revision": {strconv.Itoa(revision)}, "comment": {comment}}
}

func TestRequestPageShowsDiffRisksAndWhatItTakes(t *testing.T) {
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-prod", "Quarterly cost review")

	bob, _ := f.signedIn("bob")
	page := bob.get(requestPath(r.ID))
	require.Equal(t, http.StatusOK, page.status, page.body)
	body := html.UnescapeString(page.body)
	require.Contains(t, body, `data-testid="request-diff"`)
	require.Contains(t, body, "spec.desiredState")
	require.Contains(t, body, "STOPPED")
	require.Contains(t, body, `data-testid="risk-hint"`)
	require.Contains(t, body, "Quarterly cost review")
	require.Contains(t, body, "Alice Anderson")
	require.Contains(t, body, "Waiting for approval")
	require.Contains(t, body, "0 of 2 approvals given, from members of approvers")
	require.Contains(t, body, `href="/clusters/`+r.ClusterUID+`"`)
	require.Contains(t, body, "it has not changed since this request was made")
	require.Contains(t, body, `data-testid="approve-button"`)
	require.Contains(t, body, `data-testid="reject-form"`)
	require.NotContains(t, body, `data-testid="cancel-form"`)
	require.Contains(t, body, `data-testid="request-timeline"`)
	require.Contains(t, body, "Alice Anderson filed the request.") // the audit event of the filing, in words

	// The requester sees why she cannot approve, and the cancel form.
	own := html.UnescapeString(alice.get(requestPath(r.ID)).body)
	require.NotContains(t, own, `data-testid="approve-button"`)
	require.NotContains(t, own, `data-testid="reject-form"`)
	require.Contains(t, own, "four eyes")
	require.Contains(t, own, `data-testid="cancel-form"`)
}

func TestRequestPageUnknownRequestIs404(t *testing.T) {
	f := newDecideFixture(t)
	bob, _ := f.signedIn("bob")
	require.Equal(t, http.StatusNotFound, bob.get("/requests/999999").status)
	require.Equal(t, http.StatusNotFound, bob.get("/requests/abc").status)
}

func TestRequestApproveEnqueuesTheSubmission(t *testing.T) {
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Not used at night")

	bob, _ := f.signedIn("bob")
	// state=approved and the like are not read from the form.
	form := decisionValues(bob, r.Revision.Number, "Fine by me")
	form.Set("state", "approved")
	form.Set("requester_id", "1")
	resp := bob.postOnce(requestPath(r.ID, "approve"), form)
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	require.Equal(t, requestPath(r.ID), resp.header.Get("Location"))
	require.Equal(t, approvals.StateApproved, f.state(r.ID))
	require.Equal(t, 1, f.count(`SELECT count(*) FROM river_job WHERE kind = 'submit' AND args->>'request_id' = $1`, strconv.FormatInt(r.ID, 10)),
		"one submit job for the request")

	// A second click changes nothing and still redirects.
	again := bob.postOnce(requestPath(r.ID, "approve"), form)
	require.Equal(t, http.StatusSeeOther, again.status, again.body)
	require.Equal(t, 1, f.count(`SELECT count(*) FROM approvals WHERE request_id = $1`, r.ID))
	require.Equal(t, 1, f.count(`SELECT count(*) FROM river_job WHERE kind = 'submit'`))

	page := html.UnescapeString(bob.get(requestPath(r.ID)).body)
	require.Contains(t, page, "Approved, waiting to be sent")
	require.Contains(t, page, "Fine by me")
	require.NotContains(t, page, `data-testid="approve-button"`)
}

func TestRequestRequesterCannotApproveHerOwn(t *testing.T) {
	f := newDecideFixture(t)
	// Alice is an approver too here: four-eyes still holds.
	_, bobID := f.signedIn("bob")
	r := f.file(bobID, "Bob Brown", approvals.KindStart, "clickstream-dev", "Mine")
	bob, _ := f.signedIn("bob")
	page := bob.get(requestPath(r.ID))
	require.NotContains(t, page.body, `data-testid="approve-button"`)
	resp := bob.postOnce(requestPath(r.ID, "approve"), decisionValues(bob, r.Revision.Number, ""))
	require.Equal(t, http.StatusForbidden, resp.status, resp.body)
	require.Contains(t, html.UnescapeString(resp.body), "four eyes")
	require.Equal(t, approvals.StatePending, f.state(r.ID))
	require.Zero(t, f.count(`SELECT count(*) FROM approvals WHERE request_id = $1`, r.ID))

	// Someone outside the approver groups gets 403 too.
	alice, _ := f.signedIn("alice")
	resp = alice.postOnce(requestPath(r.ID, "approve"), decisionValues(alice, r.Revision.Number, ""))
	require.Equal(t, http.StatusForbidden, resp.status, resp.body)
	require.Zero(t, f.count(`SELECT count(*) FROM river_job WHERE kind = 'submit'`))
}

var commentFieldRE = regexp.MustCompile(`<textarea name="comment" id="comment"[^>]*aria-describedby="comment-error"[^>]*>([^<]*)</textarea>`)

func TestRequestRejectNeedsAComment(t *testing.T) {
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Nightly")
	carol, _ := f.signedIn("carol")

	resp := carol.postOnce(requestPath(r.ID, "reject"), decisionValues(carol, r.Revision.Number, "   "))
	require.Equal(t, http.StatusUnprocessableEntity, resp.status, resp.body)
	require.Contains(t, resp.body, `data-testid="comment-error"`)
	require.Regexp(t, commentFieldRE, resp.body)
	require.Equal(t, approvals.StatePending, f.state(r.ID))

	resp = carol.postOnce(requestPath(r.ID, "reject"), decisionValues(carol, r.Revision.Number, strings.Repeat("x", 2001)))
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	m := commentFieldRE.FindStringSubmatch(resp.body)
	require.NotNil(t, m)
	require.Equal(t, strings.Repeat("x", 2001), m[1], "the comment is kept")

	resp = carol.postOnce(requestPath(r.ID, "reject"), decisionValues(carol, r.Revision.Number, "Use the scheduler instead"))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	require.Equal(t, approvals.StateRejected, f.state(r.ID))
}

func TestRequestCancel(t *testing.T) {
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Oops")
	confirmed := func(b *browser, reason string) url.Values {
		return url.Values{"csrf_token": {b.csrfToken()}, "comment": {reason}, "confirm": {"yes"}}
	}

	carol, _ := f.signedIn("carol")
	resp := carol.postOnce(requestPath(r.ID, "cancel"), confirmed(carol, "not mine"))
	require.Equal(t, http.StatusForbidden, resp.status, resp.body)
	require.Equal(t, approvals.StatePending, f.state(r.ID))

	// Without the confirmation nothing happens: the form comes back with
	// the message on the box to tick, the reason kept.
	resp = alice.postOnce(requestPath(r.ID, "cancel"), url.Values{"csrf_token": {alice.csrfToken()}, "comment": {"filed by mistake"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.status, resp.body)
	require.Equal(t, approvals.StatePending, f.state(r.ID))
	body := html.UnescapeString(resp.body)
	require.Regexp(t, `<input type="checkbox" id="cancel_confirm" name="confirm" value="yes" required [^>]*aria-invalid="true"`, body)
	require.Contains(t, body, `aria-describedby="cancel_confirm-error"`)
	require.Contains(t, body, "Tick “Yes, cancel request "+itoa(r.ID)+"” to confirm: nothing was cancelled.")
	require.Contains(t, body, ">filed by mistake</textarea>")

	resp = alice.postOnce(requestPath(r.ID, "cancel"), confirmed(alice, "filed by mistake"))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	require.Equal(t, approvals.StateCancelled, f.state(r.ID))
	// A double submit lands on the page too.
	resp = alice.postOnce(requestPath(r.ID, "cancel"), confirmed(alice, "filed by mistake"))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)

	// The page says who cancelled, and why, and so does the timeline.
	page := html.UnescapeString(alice.get(requestPath(r.ID)).body)
	require.Regexp(t, `data-testid="request-cancelled">Cancelled by <strong>Alice Anderson</strong>, <time datetime="[^"]+" data-relative>[^<]+</time>: <q data-testid="request-cancel-reason">filed by mistake</q>`, page)
	require.Regexp(t, `Alice Anderson cancelled the request.</span>\s*<span class="state-badge state-off"`, page)
	require.Contains(t, page, `<q class="timeline-quote">filed by mistake</q>`)

	// An admin cancelling someone else's request must say why.
	r2 := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Again")
	dave, _ := f.signedIn("dave")
	davePage := html.UnescapeString(dave.get(requestPath(r2.ID)).body)
	require.Contains(t, davePage, "Why cancel? (required: Alice Anderson reads it)")
	resp = dave.postOnce(requestPath(r2.ID, "cancel"), confirmed(dave, " "))
	require.Equal(t, http.StatusUnprocessableEntity, resp.status, resp.body)
	require.Contains(t, html.UnescapeString(resp.body), "Say why you cancel someone else's request: its requester reads it.")
	require.Equal(t, approvals.StatePending, f.state(r2.ID))
	resp = dave.postOnce(requestPath(r2.ID, "cancel"), confirmed(dave, "maintenance freeze"))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	seen := html.UnescapeString(alice.get(requestPath(r2.ID)).body)
	require.Regexp(t, `Cancelled by <strong>Dave Davis</strong> \(an admin\), <time [^>]+>[^<]+</time>: <q data-testid="request-cancel-reason">maintenance freeze</q>`, seen)

	// Without the CSRF token nothing happens.
	r3 := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Once more")
	resp = alice.postOnce(requestPath(r3.ID, "cancel"), url.Values{"confirm": {"yes"}})
	require.Equal(t, http.StatusForbidden, resp.status)
	require.Equal(t, approvals.StatePending, f.state(r3.ID))
}

func TestRequestTextIsRenderedInert(t *testing.T) {
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>`
	r := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-prod", "why "+evil)
	bob, _ := f.signedIn("bob")
	resp := bob.postOnce(requestPath(r.ID, "approve"), decisionValues(bob, r.Revision.Number, "ok "+evil))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	page := bob.get(requestPath(r.ID))
	require.Equal(t, http.StatusOK, page.status)
	require.NotContains(t, page.body, evil)
	require.NotContains(t, page.body, "<script>alert")
	require.Contains(t, page.body, "&lt;script&gt;alert(1)&lt;/script&gt;")
}

func TestRequestConcurrentApprovalsGiveOneRow(t *testing.T) {
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Twice")
	bob, _ := f.signedIn("bob")
	form := decisionValues(bob, r.Revision.Number, "")
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = bob.postOnce(requestPath(r.ID, "approve"), form).status
		})
	}
	wg.Wait()
	for _, st := range statuses {
		require.Equal(t, http.StatusSeeOther, st)
	}
	require.Equal(t, 1, f.count(`SELECT count(*) FROM approvals WHERE request_id = $1`, r.ID))
	require.Equal(t, 1, f.count(`SELECT count(*) FROM river_job WHERE kind = 'submit'`))
	require.Equal(t, approvals.StateApproved, f.state(r.ID))
}
