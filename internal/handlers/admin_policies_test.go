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

// TestAdminPolicyCreate: dave adds a policy from the list; it opens on its
// page disabled, matching every request, with one approval from the
// approver role, and moves no request until he enables it; its creation
// is audited. A bad or taken name comes back on the list naming the field,
// with what was typed; only admins may add one.
func TestAdminPolicyCreate(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	dave, _ := f.signedIn("dave")
	list := dave.get("/admin/policies")
	require.Contains(t, list.body, `data-testid="policy-new-form"`)

	created := dave.postOnce("/admin/policies", url.Values{"csrf_token": {dave.csrfToken()},
		"name": {"payments-production"}, "description": {"Payments: three approvals."}})
	require.Equal(t, http.StatusSeeOther, created.status)
	var id int64
	var enabled bool
	var groups []string
	require.NoError(t, f.pool.QueryRow(t.Context(), `SELECT id, enabled, approver_groups FROM policies WHERE name = 'payments-production'`).
		Scan(&id, &enabled, &groups))
	require.Equal(t, "/admin/policies/"+strconv.FormatInt(id, 10), created.header.Get("Location"))
	require.False(t, enabled, "a new policy starts disabled")
	require.Equal(t, []string{"approvers"}, groups)
	page := dave.get(created.header.Get("Location"))
	require.Contains(t, page.body, "Policy payments-production")
	require.Contains(t, page.body, `Payments: three approvals.`)
	var audited int
	require.NoError(t, f.pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log
		WHERE action = 'policy.created' AND subject_type = 'policy' AND subject_id = $1 AND data->>'name' = 'payments-production'`,
		strconv.FormatInt(id, 10)).Scan(&audited))
	require.Equal(t, 1, audited)

	for name, want := range map[string]string{
		"Payments Prod":       "Name: use 1 to 63 lower-case letters",
		"payments-production": `Name: a policy named "payments-production" exists already`,
	} {
		bad := dave.postOnce("/admin/policies", url.Values{"csrf_token": {dave.csrfToken()}, "name": {name}, "description": {"typed"}})
		require.Equal(t, http.StatusUnprocessableEntity, bad.status, name)
		body := html.UnescapeString(bad.body)
		require.Contains(t, body, want)
		require.Contains(t, body, `value="`+name+`"`, "what was typed is kept")
	}

	alice, _ := f.signedIn("alice")
	require.Equal(t, http.StatusForbidden, alice.postOnce("/admin/policies", url.Values{"csrf_token": {alice.csrfToken()},
		"name": {"mine"}}).status)
}
