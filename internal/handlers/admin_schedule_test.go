package handlers

import (
	"html"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// TestAdminWindowsAndWaitingRequest: dave adds a freeze of production from
// the admin page; a production change approved during it says on its page
// that it waits and until when; a window with a bad time zone is refused
// on the form; both changes are audited.
func TestAdminWindowsAndWaitingRequest(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	dave, _ := f.signedIn("dave")
	require.Contains(t, dave.get("/admin/windows").body, `data-testid="windows-empty"`)

	ends := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Minute)
	resp := dave.postOnce("/admin/freezes", url.Values{"csrf_token": {dave.csrfToken()}, "reason": {"end of year"},
		"starts": {time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")}, "ends": {ends.Format("2006-01-02T15:04")},
		"environments": {"production"}})
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	bad := dave.postOnce("/admin/windows", url.Values{"csrf_token": {dave.csrfToken()}, "name": {"prod"}, "weekdays": {"1", "2"},
		"start": {"09:00"}, "end": {"16:00"}, "time_zone": {"Mars/Olympus"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, html.UnescapeString(bad.body), `"Mars/Olympus" is not a time zone`)
	resp = dave.postOnce("/admin/windows", url.Values{"csrf_token": {dave.csrfToken()}, "name": {"staging"}, "weekdays": {"1", "2", "3", "4"},
		"start": {"09:00"}, "end": {"16:00"}, "time_zone": {"Europe/Berlin"}, "environments": {"staging"}})
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	page := html.UnescapeString(dave.get("/admin/windows").body)
	require.Contains(t, page, "staging: Mon, Tue, Wed, Thu 09:00–16:00 Europe/Berlin")
	require.Contains(t, page, "end of year")

	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-prod", "maintenance")
	for _, who := range []string{"bob", "carol"} {
		b, _ := f.signedIn(who)
		got := b.postOnce(requestPath(r.ID, "approve"), decisionValues(b, 1, "ok"))
		require.Equal(t, http.StatusSeeOther, got.status, got.body)
	}
	require.Equal(t, approvals.StateApproved, f.state(r.ID))
	show := html.UnescapeString(dave.get(requestPath(r.ID)).body)
	require.Contains(t, show, `data-testid="request-waits"`)
	require.Contains(t, show, "waiting for the freeze end of year: Clusterdesk sends it at "+ends.Format("Mon 2006-01-02 15:04 MST"))

	events, err := audit.List(t.Context(), f.pool, audit.Filter{SubjectType: audit.SubjectSchedule}, audit.PageRequest{})
	require.NoError(t, err)
	require.Len(t, events.Entries, 2, "the window and the freeze, under the schedule's history")
	for _, e := range events.Entries {
		require.Contains(t, []audit.Action{audit.WindowChanged, audit.FreezeChanged}, e.Action)
	}
}

// TestPendingRequestSaysWhenItExpires: with PORTAL_REQUEST_EXPIRE_AFTER a
// pending request's page says when it expires; without, nothing.
func TestPendingRequestSaysWhenItExpires(t *testing.T) {
	t.Parallel()
	for _, after := range []time.Duration{0, 7 * 24 * time.Hour} {
		f := newDecideFixture(t)
		f.server.deps.RequestExpireAfter = after // before the first request
		_, aliceID := f.signedIn("alice")
		r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "testing")
		dave, _ := f.signedIn("dave")
		page := html.UnescapeString(dave.get(requestPath(r.ID)).body)
		if after == 0 {
			require.NotContains(t, page, `data-testid="request-expires"`)
			continue
		}
		require.Contains(t, page, "it expires at "+r.UpdatedAt.Add(after).UTC().Format("Mon 2006-01-02 15:04 MST"))
	}
}

// TestAdminWindowAcrossMidnight: a window closing before it opens is
// added from the form and listed as closing the next day; 00:00 as the
// closing time is midnight; one closing when it opens is refused.
func TestAdminWindowAcrossMidnight(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	dave, _ := f.signedIn("dave")
	add := func(name, start, end string) response {
		return dave.postOnce("/admin/windows", url.Values{"csrf_token": {dave.csrfToken()}, "name": {name}, "weekdays": {"5", "6"},
			"start": {start}, "end": {end}, "time_zone": {"Europe/Berlin"}, "environments": {"production"}})
	}
	resp := add("nightly", "22:00", "02:00")
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	resp = add("evening", "20:00", "00:00")
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	page := html.UnescapeString(dave.get("/admin/windows").body)
	require.Contains(t, page, "nightly: Fri, Sat 22:00–02:00 the next day Europe/Berlin")
	require.Contains(t, page, "evening: Fri, Sat 20:00–24:00 Europe/Berlin")

	bad := add("never", "09:00", "09:00")
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, html.UnescapeString(bad.body), "it must close at another time than it opens")
}
