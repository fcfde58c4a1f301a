package handlers

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/governance"
)

// TestAdminTeamsPage: dave creates a team and an ownership rule from the
// admin page; the clusters then show their owner, the change is audited
// with before and after, mistakes come back on the page, and nobody but
// an admin reaches it.
func TestAdminTeamsPage(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	dave, _ := f.signedIn("dave")
	home := dave.get("/")
	require.Contains(t, home.body, `data-testid="nav-admin"`)
	page := dave.get("/admin/teams")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `data-testid="teams-empty"`)

	resp := dave.postOnce("/admin/teams", url.Values{"csrf_token": {dave.csrfToken()}, "name": {"analytics"},
		"requester_groups": {"developers, analytics-devs"}, "approver_groups": {"approvers"}, "lead_groups": {"analytics-leads"}})
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	resp = dave.postOnce("/admin/ownership/rules", url.Values{"csrf_token": {dave.csrfToken()}, "source": {"prefix"},
		"key": {"analytics-"}, "team": {"analytics"}})
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)

	page = dave.get("/admin/teams")
	require.Contains(t, page.body, `data-team="analytics"`)
	require.Contains(t, html.UnescapeString(page.body), `names starting with "analytics-" belong to analytics`)
	require.Contains(t, page.body, "clickstream-dev", "listed as unowned")
	cluster := dave.get(clusterURL(f.uid("analytics-prod")))
	require.Contains(t, cluster.body, `data-testid="cluster-team">analytics<`)

	bad := dave.postOnce("/admin/teams", url.Values{"csrf_token": {dave.csrfToken()}, "name": {"Not A Name"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, bad.body, `data-testid="admin-error"`)
	require.Contains(t, bad.body, `value="Not A Name"`, "what was typed is kept")

	// A change of the team: the audit event holds before and after.
	resp = dave.postOnce("/admin/teams", url.Values{"csrf_token": {dave.csrfToken()}, "name": {"analytics"},
		"requester_groups": {"analytics-devs"}, "approver_groups": {"approvers"}, "lead_groups": {"analytics-leads"}})
	require.Equal(t, http.StatusSeeOther, resp.status)
	events, err := audit.List(t.Context(), f.pool, audit.Filter{Actions: []audit.Action{audit.TeamUpdated}}, audit.PageRequest{})
	require.NoError(t, err)
	require.Len(t, events.Entries, 1)
	data := string(events.Entries[0].Data)
	require.Contains(t, data, `"before"`)
	require.True(t, strings.Contains(data, `"developers"`) && strings.Contains(data, `"after"`), data)
	teams, err := governance.TeamList(t.Context(), f.pool)
	require.NoError(t, err)
	require.Equal(t, []string{"analytics-devs"}, teams[0].RequesterGroups)

	alice, _ := f.signedIn("alice")
	require.NotContains(t, alice.get("/").body, `data-testid="nav-admin"`)
	require.Equal(t, http.StatusForbidden, alice.getOnce("/admin/teams").status)
	forged := alice.postOnce("/admin/teams", url.Values{"csrf_token": {alice.csrfToken()}, "name": {"mine"}})
	require.Equal(t, http.StatusForbidden, forged.status)
}
