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

// TestRequestPageSaysWhichApprovalsExpired: once Carol's approval is older
// than the policy's age, the page says so and when, and offers her (and
// only a fresh approval, not a rejection) to approve afresh; her renewal
// counts again and the page then says when approvals expire.
func TestRequestPageSaysWhichApprovalsExpired(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-prod", "maintenance") // two approvals
	carol, carolID := f.signedIn("carol")
	resp := carol.postOnce(requestPath(r.ID, "approve"), decisionValues(carol, 1, ""))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	page := html.UnescapeString(carol.get(requestPath(r.ID)).body)
	require.Contains(t, page, "1 of 2 approvals given")
	require.Contains(t, page, `data-testid="approvals-expire"`)
	require.Contains(t, page, "Approvals count for 7 days until the change is sent")

	_, err := f.pool.Exec(t.Context(), `UPDATE approvals SET created_at = '2026-01-01 09:00Z' WHERE request_id = $1 AND approver_id = $2`, r.ID, carolID)
	require.NoError(t, err)

	bob, _ := f.signedIn("bob")
	page = html.UnescapeString(bob.get(requestPath(r.ID)).body)
	require.Contains(t, page, "0 of 2 approvals given")
	require.Contains(t, page, `data-testid="approval-expired"`)
	require.Regexp(t, `Carol [A-Za-z]+'s approval expired on <time datetime="2026-01-08T09:00:00Z">2026-01-08 09:00:00 UTC</time>; a fresh approval is needed.`, page)
	require.NotContains(t, page, `data-testid="approvals-expire"`)
	require.Contains(t, page, "expired: it no longer counts")

	page = html.UnescapeString(carol.get(requestPath(r.ID)).body)
	require.Contains(t, page, `data-testid="approve-button"`)
	require.Contains(t, page, "Approve revision 1 afresh")
	require.NotContains(t, page, `data-testid="reject-form"`)

	resp = carol.postOnce(requestPath(r.ID, "approve"), decisionValues(carol, 1, "still wanted"))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	require.Equal(t, 1, f.count(`SELECT count(*) FROM approvals WHERE request_id = $1`, r.ID))
	page = html.UnescapeString(bob.get(requestPath(r.ID)).body)
	require.Contains(t, page, "1 of 2 approvals given")
	require.NotContains(t, page, `data-testid="approval-expired"`)
	require.Contains(t, page, `data-testid="approvals-expire"`)
	require.Contains(t, page, `data-testid="decision-renewed"`)

	// An approved change whose approval expired before it was sent: the
	// page says it will go back to its approvers.
	held := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-staging", "quiet week") // one approval
	resp = carol.postOnce(requestPath(held.ID, "approve"), decisionValues(carol, 1, ""))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	require.Equal(t, approvals.StateApproved, f.state(held.ID))
	_, err = f.pool.Exec(t.Context(), `UPDATE approvals SET created_at = now() - interval '8 days' WHERE request_id = $1`, held.ID)
	require.NoError(t, err)
	page = html.UnescapeString(bob.get(requestPath(held.ID)).body)
	require.Contains(t, page, `data-testid="approvals-returns"`)
	require.NotContains(t, page, `data-testid="approval-expired"`, "nobody can approve it afresh until it is back")
}

// TestAdminPolicyApprovalAge: the policy form reads "Approvals expire
// after" in days or as a duration, refuses what it cannot read naming the
// field, and the history says before and after.
func TestAdminPolicyApprovalAge(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	dave, _ := f.signedIn("dave")
	var id int64
	require.NoError(t, f.pool.QueryRow(t.Context(), `SELECT id FROM policies WHERE name = 'production'`).Scan(&id))
	path := "/admin/policies/" + strconv.FormatInt(id, 10)
	require.Contains(t, dave.get(path).body, `name="approval_max_age" value="7d"`)

	form := url.Values{"csrf_token": {dave.csrfToken()}, "environments": {"production"}, "approvals_required": {"2"},
		"approver_groups": {"approvers"}, "enabled": {"true"}, "save": {"1"}}
	for _, bad := range []string{"soon", "-2h", "0s"} {
		form.Set("approval_max_age", bad)
		resp := dave.postOnce(path, form)
		require.Equal(t, http.StatusUnprocessableEntity, resp.status, bad)
		require.Contains(t, html.UnescapeString(resp.body), "pprovals expire after", bad)
	}

	form.Set("approval_max_age", "36h")
	saved := dave.postOnce(path, form)
	require.Equal(t, http.StatusOK, saved.status, saved.body)
	body := html.UnescapeString(saved.body)
	require.Contains(t, body, `approval_max_age: "168h0m0s" → "36h0m0s"`)
	require.Contains(t, body, `name="approval_max_age" value="36h"`)

	form.Set("approval_max_age", "2")
	saved = dave.postOnce(path, form)
	require.Equal(t, http.StatusOK, saved.status, saved.body)
	require.Contains(t, saved.body, `name="approval_max_age" value="2d"`)
}
