package handlers

import (
	"html"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// TestAdminPolicyPage: dave previews and saves the production policy at
// three approvals; the open production request's page says it needs three
// and that the policy changed; the policy page shows the change in its
// history; a mistake comes back on the form; only admins reach it.
func TestAdminPolicyPage(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-prod", "maintenance")
	dave, _ := f.signedIn("dave")

	list := dave.get("/admin/policies")
	require.Equal(t, http.StatusOK, list.status)
	require.Contains(t, list.body, `data-policy="production"`)
	var id int64
	require.NoError(t, f.pool.QueryRow(t.Context(), `SELECT id FROM policies WHERE name = 'production'`).Scan(&id))
	path := "/admin/policies/" + strconv.FormatInt(id, 10)
	page := dave.get(path)
	require.Contains(t, page.body, `data-testid="policy-history-none"`)

	form := url.Values{"csrf_token": {dave.csrfToken()}, "environments": {"production"}, "approvals_required": {"3"},
		"approver_groups": {"approvers"}, "enabled": {"true"}, "preview": {"1"}}
	preview := dave.postOnce(path, form)
	require.Equal(t, http.StatusOK, preview.status)
	require.Contains(t, html.UnescapeString(preview.body), "#"+strconv.FormatInt(r.ID, 10)+" stop analytics-prod")
	require.Contains(t, html.UnescapeString(preview.body), "production, 2 approvals → production, 3 approvals")

	form.Del("preview")
	form.Set("save", "1")
	saved := dave.postOnce(path, form)
	require.Equal(t, http.StatusOK, saved.status)
	require.Contains(t, html.UnescapeString(saved.body), "approvals_required: 2 → 3")

	alice, _ := f.signedIn("alice")
	req := alice.get(requestPath(r.ID))
	require.Contains(t, req.body, `data-testid="policy-changed"`)
	require.Regexp(t, `0 of 3 approvals given`, req.body)

	form.Set("approver_groups", "friends")
	bad := dave.postOnce(path, form)
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, html.UnescapeString(bad.body), "does not grant the approver role")

	require.Equal(t, http.StatusForbidden, alice.getOnce(path).status)
}

// TestAdminPolicyTeams: the form offers the defined teams; a policy saved
// for a team lists it, and its history shows the teams before and after;
// a team that does not exist is refused on the form, naming the field.
func TestAdminPolicyTeams(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	_, err := f.pool.Exec(t.Context(), `INSERT INTO teams (name) VALUES ('analytics'), ('clickstream')`)
	require.NoError(t, err)
	dave, _ := f.signedIn("dave")
	var id int64
	require.NoError(t, f.pool.QueryRow(t.Context(), `SELECT id FROM policies WHERE name = 'production'`).Scan(&id))
	path := "/admin/policies/" + strconv.FormatInt(id, 10)
	page := dave.get(path)
	require.Contains(t, page.body, `name="teams" value="analytics"`)
	require.Contains(t, page.body, `name="teams" value="clickstream"`)

	form := url.Values{"csrf_token": {dave.csrfToken()}, "environments": {"production"}, "approvals_required": {"2"},
		"approver_groups": {"approvers"}, "enabled": {"true"}, "teams": {"analytics"}, "save": {"1"}}
	saved := dave.postOnce(path, form)
	require.Equal(t, http.StatusOK, saved.status)
	require.Contains(t, html.UnescapeString(saved.body), `teams: [] → ["analytics"]`)
	require.Regexp(t, `name="teams" value="analytics" checked`, saved.body)

	list := dave.get("/admin/policies")
	require.Regexp(t, `data-policy="production">\s*<th[^>]*>.*?</th>\s*<td data-testid="policy-teams">analytics</td>`, list.body)

	form.Set("teams", "nobody")
	bad := dave.postOnce(path, form)
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, html.UnescapeString(bad.body), `Teams: there is no team named "nobody"`)
}
