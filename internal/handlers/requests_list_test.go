package handlers

import (
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// listedRequests returns the ids of the request rows of a requests page,
// in order.
func listedRequests(t *testing.T, body string) []int64 {
	t.Helper()
	out := []int64{}
	for _, m := range regexp.MustCompile(`data-testid="requests-row" data-id="([0-9,]+)"`).FindAllStringSubmatch(body, -1) {
		id, err := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
		require.NoError(t, err)
		out = append(out, id)
	}
	return out
}

// pagerURL returns the address of the pager link testid, or "".
func pagerURL(body, testid string) string {
	m := regexp.MustCompile(`href="([^"]+)"[^>]*data-testid="` + testid + `"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestRequestsListFilters(t *testing.T) {
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	bob, bobID := f.signedIn("bob")
	carol, _ := f.signedIn("carol")
	prodStop := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-prod", "Cost review")
	devStart := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Testing")
	stagingDelete := f.file(bobID, "Bob Brown", approvals.KindDelete, "analytics-staging", "Not needed")
	_, err := f.service.Cancel(t.Context(), approvals.Actor{UserID: aliceID, Name: "Alice Anderson"}, devStart.ID, "")
	require.NoError(t, err)
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)

	page := alice.get("/requests")
	require.Equal(t, http.StatusOK, page.status, page.body)
	require.Contains(t, page.header.Values("Vary"), "HX-Request")
	require.Contains(t, page.body, `data-testid="nav-requests" aria-current="page"`)
	require.Equal(t, []int64{stagingDelete.ID, devStart.ID, prodStop.ID}, listedRequests(t, page.body), "newest first")
	body := html.UnescapeString(page.body)
	require.Contains(t, body, `href="/requests/`+strconv.FormatInt(prodStop.ID, 10)+`"`)
	require.Contains(t, body, `href="/clusters/`+prodStop.ClusterUID+`"`)
	require.Contains(t, body, `data-state="cancelled"`, "the state badge")
	require.Contains(t, body, "0 of 2 approvals", "production needs two")
	require.Contains(t, body, "3 requests in all")
	require.Contains(t, body, `<option value="analytics-prod">`, "cluster names to pick from")
	require.Contains(t, body, `<option value="Bob Brown">`, "people to pick from")
	// The form works without script: a GET to the same address.
	require.Contains(t, body, `method="get" action="/requests"`)
	require.NotContains(t, body, `data-testid="filter-waiting"`, "alice approves nothing")

	for _, tc := range []struct {
		name, query string
		who         *browser
		want        []int64
	}{
		{"mine", "mine=1", alice, []int64{devStart.ID, prodStop.ID}},
		{"mine, bob", "mine=1", bob, []int64{stagingDelete.ID}},
		{"waiting on carol", "waiting=1", carol, []int64{stagingDelete.ID, prodStop.ID}},
		{"waiting on bob: not his own", "waiting=1", bob, []int64{prodStop.ID}},
		{"cluster", "cluster=analytics-prod", alice, []int64{prodStop.ID}},
		{"states", "state=cancelled&state=pending", alice, []int64{stagingDelete.ID, devStart.ID, prodStop.ID}},
		{"one state", "state=cancelled", alice, []int64{devStart.ID}},
		{"kind", "kind=delete", alice, []int64{stagingDelete.ID}},
		{"person by name", "person=bob+brown", alice, []int64{stagingDelete.ID}},
		{"person by username", "person=alice", carol, []int64{devStart.ID, prodStop.ID}},
		{"filed today", "from=" + today + "&to=" + today, alice, []int64{stagingDelete.ID, devStart.ID, prodStop.ID}},
		{"filed from tomorrow", "from=" + tomorrow, alice, []int64{}},
		{"mine and pending", "mine=1&state=pending", alice, []int64{prodStop.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := tc.who.get("/requests?" + tc.query)
			require.Equal(t, http.StatusOK, page.status, page.body)
			require.Equal(t, tc.want, listedRequests(t, page.body))
			if len(tc.want) == 0 {
				require.Contains(t, page.body, "No request matches this filter. Widen it")
			}
		})
	}

	t.Run("the filter stays on the form", func(t *testing.T) {
		page := carol.get("/requests?waiting=1&state=pending&kind=stop&cluster=analytics-prod&person=alice&from=" + today)
		body := html.UnescapeString(page.body)
		require.Regexp(t, `name="waiting" value="1" checked`, body)
		require.Regexp(t, `value="pending" checked`, body)
		require.Regexp(t, `<option value="stop" selected>`, body)
		require.Contains(t, body, `name="cluster" value="analytics-prod"`)
		require.Contains(t, body, `name="person" value="alice"`)
		require.Contains(t, body, `name="from" value="`+today+`"`)
		require.Contains(t, body, "1 request matches this filter.")
	})

	t.Run("waiting on someone who approves nothing", func(t *testing.T) {
		page := alice.get("/requests?waiting=1")
		require.Equal(t, http.StatusOK, page.status)
		body := html.UnescapeString(page.body)
		require.Contains(t, body, "Nothing waits on you: you do not hold the approver role.")
		require.Regexp(t, `name="waiting" value="1" checked`, body, "the box is there to untick")
	})

	t.Run("htmx gets the results with the URL to push", func(t *testing.T) {
		page := alice.get("/requests?mine=1&cluster=&person=&kind=&from=&to=", "HX-Request", "true")
		require.Equal(t, http.StatusOK, page.status, page.body)
		require.NotContains(t, page.body, "<html")
		require.Contains(t, page.body, `id="requests-results"`)
		require.Equal(t, "/requests?mine=1", page.header.Get("HX-Push-Url"), "empty fields left out")
		require.Contains(t, page.header.Values("Vary"), "HX-Request")
		require.Equal(t, []int64{devStart.ID, prodStop.ID}, listedRequests(t, page.body))
	})

	t.Run("nothing at all", func(t *testing.T) {
		_, err := f.pool.Exec(t.Context(), "UPDATE change_requests SET created_at = now() + interval '1 day'")
		require.NoError(t, err)
		page := alice.get("/requests?to=" + today)
		require.Contains(t, page.body, `data-testid="requests-empty"`)
	})
}

func TestRequestsListRefusesBadFilters(t *testing.T) {
	f := newDecideFixture(t)
	alice, _ := f.signedIn("alice")
	for _, tc := range []struct{ query, message, field string }{
		{"from=2026-13-01", "Filed from: Not a date: use YYYY-MM-DD.", "from"},
		{"to=yesterday", "Filed until: Not a date: use YYYY-MM-DD.", "to"},
		{"from=2026-05-02&to=2026-05-01", "Filed until: Must be on or after Filed from.", "to"},
		{"state=done", `States: There is no state "done".`, "state"},
		{"kind=reboot", `Kind: There is no kind "reboot".`, "kind"},
		{"before=yesterday", "Page: That page link is broken", ""},
		{"after=12-0", "Page: That page link is broken", ""},
		{"cluster=" + strings.Repeat("x", 201), "Cluster name: Type at most 200 characters.", "cluster"},
	} {
		t.Run(tc.query[:min(len(tc.query), 30)], func(t *testing.T) {
			page := alice.get("/requests?" + tc.query)
			require.Equal(t, http.StatusUnprocessableEntity, page.status)
			body := html.UnescapeString(page.body)
			require.Contains(t, body, tc.message)
			require.Contains(t, body, `data-testid="requests-filter"`, "the form comes back to be fixed")
			if tc.field != "" {
				require.Contains(t, body, `aria-describedby="`+tc.field+`-error"`)
			}
			require.NotContains(t, body, `data-testid="requests-row"`)

			frag := alice.get("/requests?"+tc.query, "HX-Request", "true")
			require.Equal(t, http.StatusUnprocessableEntity, frag.status)
			require.Contains(t, html.UnescapeString(frag.body), tc.message)
			require.Empty(t, frag.header.Get("HX-Push-Url"), "a wrong filter is not pushed to the address bar")
		})
	}
}

func TestRequestsListNeedsARole(t *testing.T) {
	f := newDecideFixture(t)
	mallory, _ := f.signedIn("mallory")
	page := mallory.get("/requests")
	require.Equal(t, http.StatusForbidden, page.status)
	require.NotContains(t, page.body, `data-testid="requests-table"`)
	require.NotContains(t, page.body, `data-testid="nav-requests"`)

	erin, _ := f.signedIn("erin") // an auditor reads requests too
	page = erin.get("/requests")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `data-testid="nav-requests"`)
}

func TestRequestsListPages(t *testing.T) {
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	var filed []int64
	for i := range requestsPageSize + 3 {
		kind := []approvals.Kind{approvals.KindStop, approvals.KindStart}[i%2]
		cluster := []string{"analytics-prod", "clickstream-dev"}[i%2]
		filed = append(filed, f.file(aliceID, "Alice Anderson", kind, cluster, "Batch "+strconv.Itoa(i)).ID)
	}
	// Half of them at one moment, so that the page boundary falls inside a tie.
	_, err := f.pool.Exec(t.Context(), "UPDATE change_requests SET created_at = '2026-06-01T12:00:00Z' WHERE id % 2 = 0")
	require.NoError(t, err)
	page := alice.get("/requests?mine=1")
	first := listedRequests(t, page.body)
	require.Len(t, first, requestsPageSize)
	require.Empty(t, pagerURL(page.body, "requests-newer"))
	require.Contains(t, page.body, "28 requests match this filter; this page shows 25")

	older := pagerURL(page.body, "requests-older")
	require.Contains(t, older, "mine=1", "the filter goes along")
	require.Contains(t, older, "before=")
	page = alice.get(older)
	require.Equal(t, http.StatusOK, page.status, page.body)
	second := listedRequests(t, page.body)
	require.Len(t, second, 3)
	require.Empty(t, pagerURL(page.body, "requests-older"))
	require.ElementsMatch(t, filed, append(append([]int64{}, first...), second...), "every request once")

	newer := pagerURL(page.body, "requests-newer")
	require.Contains(t, newer, "after=")
	require.Equal(t, "/requests?mine=1", pagerURL(page.body, "requests-newest"))
	page = alice.get(newer)
	require.Equal(t, first, listedRequests(t, page.body), "back to the first page")
	require.Empty(t, pagerURL(page.body, "requests-newer"))
}

func TestRequestsAreLinkedWhereverTheyAreMentioned(t *testing.T) {
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	carol, _ := f.signedIn("carol")
	first := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-staging", "Weekend")
	second := f.file(aliceID, "Alice Anderson", approvals.KindDelete, "analytics-staging", "Not needed")
	link := func(r approvals.Request) string { return `href="/requests/` + strconv.FormatInt(r.ID, 10) + `"` }

	// The request page's other open requests.
	page := html.UnescapeString(carol.get(requestPath(second.ID)).body)
	require.Contains(t, page, `<a `+link(first)+` data-testid="overlap-link">Request #`+strconv.FormatInt(first.ID, 10)+`</a>`)
	require.Contains(t, page, "(stop, Waiting for approval)")
	require.Contains(t, page, "changes the same fields", "a delete collides with everything")

	// The cluster page: links, state badges, and the cluster's whole list.
	page = html.UnescapeString(alice.get("/clusters/" + first.ClusterUID).body)
	require.Contains(t, page, link(first)+` data-testid="cluster-request-link"`)
	require.Contains(t, page, `data-state="pending">Waiting for approval</span>`)
	require.Contains(t, page, `href="/requests?cluster=analytics-staging"`)

	// The start page and the approvals queue: links and badges.
	home := alice.get("/")
	require.Contains(t, home.body, link(first))
	require.Contains(t, home.body, `href="/requests?mine=1" data-testid="home-all-mine"`)
	require.Contains(t, home.body, `href="/requests" data-testid="home-all-requests"`)
	require.Contains(t, home.body, `data-testid="request-state" data-state="pending"`)
	queue := carol.get("/approvals")
	require.Contains(t, queue.body, link(second))
	require.Contains(t, queue.body, `data-testid="request-state" data-state="pending"`)
}
