package handlers

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/web/static"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

func TestEveryPageNamesAFaviconThatAnswers(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()
	page := b.signIn("alice", "/")
	require.Equal(t, http.StatusOK, page.status)
	m := faviconRE.FindStringSubmatch(page.body)
	require.NotNil(t, m, "the layout links the icon")
	icon := b.getOnce(m[1])
	require.Equal(t, http.StatusOK, icon.status)
	require.Equal(t, "image/svg+xml", icon.header.Get("Content-Type"))

	// Browsers and other clients that ask /favicon.ico get it too.
	ico := env.browser().getOnce("/favicon.ico")
	require.Equal(t, http.StatusOK, ico.status)
	require.Equal(t, string(static.Favicon), ico.body)
}

func TestMenuOffersOnlyPagesThePersonMayOpen(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	mallory := env.browser().signIn("mallory", "/")
	require.Equal(t, http.StatusForbidden, mallory.status)
	require.NotContains(t, mallory.body, `data-testid="nav-clusters"`, "Clusters answers 403 to someone without a role")
	require.Contains(t, mallory.body, `data-testid="sign-out"`)

	alice := env.browser().signIn("alice", "/")
	require.Contains(t, alice.body, `data-testid="nav-clusters"`)
	require.NotContains(t, alice.body, `data-testid="nav-approvals"`)
}

func TestErrorPagesOfferTheWayBack(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	b := f.browser()
	b.signIn("alice", "/")

	// A cluster that does not exist, reached from the filtered list.
	r := b.get("/clusters/no-such-uid", "Referer", f.url+"/clusters?state=started")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, [][2]string{
		{"/clusters?state=started", "Back to the page you came from"},
		{"/clusters", "All clusters"},
	}, errorLinksOf(r.body))

	// Another site's page is not offered; a page under a cluster leads up
	// to the cluster too.
	r = b.get("/clusters/no-such-uid/requests/new?kind=stop", "Referer", "https://elsewhere.example/x")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, [][2]string{
		{"/clusters/no-such-uid", "The cluster&#39;s page"},
		{"/clusters", "All clusters"},
	}, errorLinksOf(r.body))
	require.Contains(t, r.body, `<a href="/">Back to the start page</a>`)

	// Someone without a role is offered the start page alone.
	m := f.browser()
	m.signIn("mallory", "/")
	r = m.get("/clusters/no-such-uid", "Referer", f.url+"/")
	require.Equal(t, http.StatusForbidden, r.status)
	require.Empty(t, errorLinksOf(r.body))
}

func TestErrorLinksUnderARequest(t *testing.T) {
	t.Parallel()
	e := echo.New()
	for path, want := range map[string][][2]string{
		"/requests/42/edit": {{"/requests/42", "Request 42"}, {"/requests", "All requests"}},
		"/requests/42":      {{"/requests", "All requests"}},
		"/clusters/new":     nil,
		"/audit/events/9":   nil,
	} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		c := e.NewContext(req, httptest.NewRecorder())
		got := errorLinks(c, templates.Page{User: &templates.User{Name: "Alice", Roles: []string{"requester"}}})
		var pairs [][2]string
		for _, l := range got {
			pairs = append(pairs, [2]string{l.URL, l.Label})
		}
		require.Equal(t, want, pairs, path)
	}
}

var (
	faviconRE   = regexp.MustCompile(`<link rel="icon" href="([^"]+)" type="image/svg\+xml">`)
	errorLinkRE = regexp.MustCompile(`<a href="([^"]+)" data-testid="error-link">([^<]+)</a>`)
)

// errorLinksOf lists an error page's ways on, as URL and label.
func errorLinksOf(body string) [][2]string {
	var links [][2]string
	for _, m := range errorLinkRE.FindAllStringSubmatch(body, -1) {
		links = append(links, [2]string{strings.ReplaceAll(m[1], "&amp;", "&"), m[2]})
	}
	return links
}

func TestClusterPageLinksItsAuditLogForAuditors(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	path := "/clusters/" + f.uid("analytics-staging")

	erin := f.browser()
	erin.signIn("erin", "/")
	page := erin.get(path)
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `href="/audit?cluster=analytics-staging" data-testid="cluster-audit-link"`)

	alice := f.browser()
	alice.signIn("alice", "/")
	require.NotContains(t, alice.get(path).body, `data-testid="cluster-audit-link"`, "only for people who may read the audit log")
}
