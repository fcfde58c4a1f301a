package handlers

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/worker"
)

// TestEmergencyChange: a member of the emergency group files a
// break-glass restart; it is approved without approvals and queued at
// once, flagged on the request page, the cluster page, the admin list and
// in the audit log, until an approver (not its requester) reviews it.
// Nobody else may file one.
func TestEmergencyChange(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	enqueue, err := worker.Enqueuer(f.pool)
	require.NoError(t, err)
	f.service = approvals.New(f.pool, approvals.Config{OnApproved: enqueue,
		Emergency: approvals.EmergencyConfig{Groups: []string{"oncall"}, ReviewWithin: 4 * time.Hour}})
	f.server.deps.Approvals = f.service
	uid := f.uid("analytics-prod")

	alice := f.signedInWith("alice", "developers")
	require.NotContains(t, alice.get(clusterURL(uid)).body, `data-testid="emergency-link"`)
	require.Equal(t, http.StatusForbidden, alice.getOnce(clusterURL(uid)+"/emergency").status)
	forged := alice.postOnce(clusterURL(uid)+"/emergency", url.Values{"csrf_token": {alice.csrfToken()}, "kind": {"stop"},
		"justification": {"x"}, "confirm_name": {"analytics-prod"}})
	require.Equal(t, http.StatusForbidden, forged.status)

	bob := f.signedInWith("bob", "developers", "approvers", "oncall")
	require.Contains(t, bob.get(clusterURL(uid)).body, `data-testid="emergency-link"`)
	form := bob.get(clusterURL(uid) + "/emergency")
	require.Equal(t, http.StatusOK, form.status)
	instance := regexpFirst(t, form.body, `<option value="(i-[^"]+)"`)
	noJustification := bob.postOnce(clusterURL(uid)+"/emergency", url.Values{"csrf_token": {bob.csrfToken()}, "kind": {"restart_server"},
		"instance_id": {instance}, "confirm_name": {"analytics-prod"}})
	require.Equal(t, http.StatusUnprocessableEntity, noJustification.status)
	resp := bob.postOnce(clusterURL(uid)+"/emergency", url.Values{"csrf_token": {bob.csrfToken()}, "kind": {"restart_server"},
		"instance_id": {instance}, "justification": {"broker out of memory, queries failing"}, "confirm_name": {"analytics-prod"}})
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	path := resp.header.Get("Location")
	id, err := strconv.ParseInt(strings.TrimPrefix(path, "/requests/"), 10, 64)
	require.NoError(t, err)
	require.Equal(t, approvals.StateApproved, f.state(id), "approved without any approval")
	require.Equal(t, 1, f.count(`SELECT count(*) FROM river_job WHERE kind = 'submit' AND (args->>'request_id')::bigint = $1`, id))

	page := html.UnescapeString(bob.get(path).body)
	require.Contains(t, page, `data-testid="emergency-banner"`)
	require.Contains(t, page, "broker out of memory")
	require.Contains(t, page, `data-testid="emergency-awaiting-review"`)
	require.NotContains(t, page, `data-testid="emergency-review-form"`, "not by its requester")
	require.Contains(t, alice.get(clusterURL(uid)).body, `data-testid="cluster-emergencies"`)
	dave, _ := f.signedIn("dave")
	require.Contains(t, dave.get("/admin/emergencies").body, "#"+strconv.FormatInt(id, 10)+" restart_server analytics-prod")
	own := bob.postOnce(path+"/emergency-review", url.Values{"csrf_token": {bob.csrfToken()}, "comment": {"fine"}})
	require.Equal(t, http.StatusForbidden, own.status)

	carol := f.signedInWith("carol", "approvers")
	require.Contains(t, carol.get(path).body, `data-testid="emergency-review-form"`)
	reviewed := carol.postOnce(path+"/emergency-review", url.Values{"csrf_token": {carol.csrfToken()}, "comment": {"right call"}})
	require.Equal(t, http.StatusSeeOther, reviewed.status, reviewed.body)
	require.Contains(t, carol.get(path).body, `data-testid="emergency-reviewed"`)
	require.Contains(t, dave.get("/admin/emergencies").body, `data-testid="emergencies-empty"`)
	require.NotContains(t, alice.get(clusterURL(uid)).body, `data-testid="cluster-emergencies"`)

	events, err := audit.List(t.Context(), f.pool, audit.Filter{SubjectType: audit.SubjectRequest, SubjectID: strconv.FormatInt(id, 10)}, audit.PageRequest{})
	require.NoError(t, err)
	var got []audit.Action
	for _, e := range events.Entries {
		got = append(got, e.Action)
	}
	require.Subset(t, got, []audit.Action{audit.RequestCreated, audit.RequestEmergency, audit.RequestEmergencyReviewed})
}

func regexpFirst(t *testing.T, body, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(body)
	require.NotNil(t, m, "no %s", pattern)
	return m[1]
}
