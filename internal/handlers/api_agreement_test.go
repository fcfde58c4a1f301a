package handlers

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/api"
	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// TestAPIAgreesWithTheForms: the same change filed through the update form
// and through the API has the same diff hash and policy, and every refusal
// the forms give has its API counterpart.
func TestAPIAgreesWithTheForms(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, apiEnvOptions{})
	aliceToken, _ := env.token("alice")
	carolToken, _ := env.token("carol")
	erinToken, _ := env.token("erin")
	alice, _ := env.signedIn("alice")
	carol, _ := env.signedIn("carol")
	erin, _ := env.signedIn("erin")
	uid := env.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), env.pool, uid)
	require.NoError(t, err)
	seen := strconv.FormatInt(cl.ResourceVersion, 10)

	// The update form, as a person fills it: tier 1 to 3 replicas.
	form := specValues(alice, cl.Spec, "", "More data")
	form.Set("seen_resource_version", seen)
	form.Set("data_tier1_replicas", "3")
	byForm := env.filedRequest(alice.postOnce("/clusters/"+uid+"/update", form))

	// The API, with the same change as a whole spec and as a patch.
	current, err := json.Marshal(cl.Spec)
	require.NoError(t, err)
	doc, err := cloudapi.ApplyMergePatch(current, []byte(`{"data": {"tier1": {"replicas": 3}}}`))
	require.NoError(t, err)
	var spec cloudapi.ClusterSpec
	require.NoError(t, json.Unmarshal(doc, &spec))
	var whole, patched api.Request
	resp := env.call(aliceToken, http.MethodPost, "/requests", map[string]any{"kind": "update", "cluster_uid": uid,
		"reason": "More data", "spec": spec, "seen_resource_version": cl.ResourceVersion})
	require.Equal(t, http.StatusCreated, resp.status, string(resp.body))
	resp.decode(t, &whole)
	resp = env.call(aliceToken, http.MethodPost, "/requests", map[string]any{"kind": "update", "cluster_uid": uid,
		"reason": "More data", "patch": json.RawMessage(`{"data": {"tier1": {"replicas": 3}}}`)})
	require.Equal(t, http.StatusCreated, resp.status, string(resp.body))
	resp.decode(t, &patched)

	formPolicy, err := approvals.Evaluate(t.Context(), env.pool, byForm.ID)
	require.NoError(t, err)
	for _, r := range []api.Request{whole, patched} {
		require.Equal(t, byForm.Revision.DiffHash.String(), r.DiffHash, "the same change, the same diff hash")
		require.Equal(t, formPolicy.Policy.ID, r.Policy.ID, "the same policy")
		require.Equal(t, formPolicy.Needed(), r.Needed)
	}

	t.Run("invalid fields, on the same field with the same words", func(t *testing.T) {
		bad := specValues(alice, cl.Spec, "", "Move the segments")
		bad.Set("seen_resource_version", seen)
		bad.Set("deep_storage_path", "bucket/x")
		page := alice.postOnce("/clusters/"+uid+"/update", bad)
		require.Equal(t, http.StatusUnprocessableEntity, page.status)
		msg, ok := errorSlot(page.body, "deep_storage_path")
		require.True(t, ok)

		resp := env.call(aliceToken, http.MethodPost, "/requests", map[string]any{"kind": "update", "cluster_uid": uid,
			"reason": "Move the segments", "patch": json.RawMessage(`{"deepStorage": {"path": "bucket/x"}}`)})
		require.Equal(t, http.StatusUnprocessableEntity, resp.status, string(resp.body))
		p := resp.problem(t)
		require.Len(t, p.Errors, 1)
		require.Equal(t, "spec.deepStorage.path", p.Errors[0].Target)
		require.Equal(t, "deep_storage_path", p.Errors[0].Field)
		require.Equal(t, msg, p.Errors[0].Message)

		resp = env.call(aliceToken, http.MethodPost, "/requests", map[string]any{"kind": "update", "cluster_uid": uid, "reason": " ",
			"patch": json.RawMessage(`{"data": {"tier1": {"replicas": 4}}}`)})
		require.Equal(t, http.StatusUnprocessableEntity, resp.status)
		require.Equal(t, "reason", resp.problem(t).Errors[0].Field, "a missing reason, on the reason as on the form")
	})

	t.Run("a form built on an older version of the cluster", func(t *testing.T) {
		old := specValues(alice, cl.Spec, "", "More data")
		old.Set("seen_resource_version", strconv.FormatInt(cl.ResourceVersion-1, 10))
		old.Set("data_tier1_replicas", "4")
		page := alice.postOnce("/clusters/"+uid+"/update", old)
		require.Equal(t, http.StatusUnprocessableEntity, page.status)
		require.Contains(t, page.body, "The cluster changed since this form was opened")

		resp := env.call(aliceToken, http.MethodPost, "/requests", map[string]any{"kind": "update", "cluster_uid": uid,
			"reason": "More data", "spec": spec, "seen_resource_version": cl.ResourceVersion - 1})
		require.Equal(t, http.StatusConflict, resp.status)
		require.Equal(t, "stale", resp.problem(t).Code)
	})

	t.Run("four-eyes", func(t *testing.T) {
		page := alice.postOnce(requestPath(byForm.ID, "approve"), decisionValues(alice, 1, ""))
		require.Equal(t, http.StatusForbidden, page.status)
		resp := env.call(aliceToken, http.MethodPost, "/requests/"+strconv.FormatInt(whole.ID, 10)+"/approve", map[string]any{"revision": 1})
		require.Equal(t, http.StatusForbidden, resp.status)
		require.Equal(t, "four-eyes", resp.problem(t).Code, "four-eyes is checked before the approver role")

		bobToken, _ := env.token("bob")
		var own api.Request
		env.call(bobToken, http.MethodPost, "/requests", map[string]any{"kind": "restart_server", "cluster_uid": uid, "reason": "Stuck",
			"instance_id": cl.Status.Servers[0].InstanceID}).decode(t, &own)
		resp = env.call(bobToken, http.MethodPost, "/requests/"+strconv.FormatInt(own.ID, 10)+"/approve", map[string]any{"revision": 1})
		require.Equal(t, http.StatusForbidden, resp.status, "an approver's own request, through their own token")
		require.Equal(t, "four-eyes", resp.problem(t).Code)
		bob, _ := env.signedIn("bob")
		require.Equal(t, http.StatusForbidden, bob.postOnce(requestPath(own.ID, "approve"), decisionValues(bob, 1, "")).status)
	})

	t.Run("permissions: the roles", func(t *testing.T) {
		page := erin.get("/clusters/" + uid + "/update")
		require.Equal(t, http.StatusForbidden, page.status, "an auditor files nothing")
		resp := env.call(erinToken, http.MethodPost, "/requests", map[string]any{"kind": "stop", "cluster_uid": uid, "reason": "x"})
		require.Equal(t, http.StatusForbidden, resp.status)
		require.Equal(t, "role-required", resp.problem(t).Code)

		resp = env.call(aliceToken, http.MethodGet, "/audit", nil)
		require.Equal(t, http.StatusForbidden, resp.status)
		require.Equal(t, http.StatusForbidden, alice.get("/audit").status)
	})

	t.Run("collisions", func(t *testing.T) {
		// Three open requests change tier 1; approving a later one
		// first is refused on the page and through the API alike.
		page := carol.postOnce(requestPath(patched.ID, "approve"), decisionValues(carol, patched.Revision, ""))
		require.Equal(t, http.StatusConflict, page.status, page.body)
		resp := env.call(carolToken, http.MethodPost, "/requests/"+strconv.FormatInt(whole.ID, 10)+"/approve", map[string]any{"revision": whole.Revision})
		require.Equal(t, http.StatusConflict, resp.status, string(resp.body))
		require.Equal(t, "collision", resp.problem(t).Code)
		var r api.Request
		env.call(carolToken, http.MethodGet, "/requests/"+strconv.FormatInt(whole.ID, 10), nil).decode(t, &r)
		require.Equal(t, 2, r.QueuePosition, "one request is ahead")
		require.Equal(t, []int{int(byForm.ID)}, r.Ahead)
	})

	t.Run("a stale revision", func(t *testing.T) {
		resp := env.call(aliceToken, http.MethodPatch, "/requests/"+strconv.FormatInt(whole.ID, 10),
			map[string]any{"reason": "Even more data"}, "If-Match", `"`+strconv.FormatInt(whole.ID, 10)+`-1"`)
		require.Equal(t, http.StatusOK, resp.status, string(resp.body))

		edit := specValues(alice, spec, "", "Old tab")
		edit.Set("revision", "1")
		edit.Set("seen_resource_version", seen)
		page := alice.postOnce(requestPath(whole.ID, "edit"), edit)
		require.Equal(t, http.StatusUnprocessableEntity, page.status)
		require.Contains(t, page.body, "Someone changed the request since you opened this form")
		resp = env.call(aliceToken, http.MethodPatch, "/requests/"+strconv.FormatInt(whole.ID, 10),
			map[string]any{"reason": "Old tab"}, "If-Match", `"`+strconv.FormatInt(whole.ID, 10)+`-1"`)
		require.Equal(t, http.StatusPreconditionFailed, resp.status)
		require.Equal(t, "stale-revision", resp.problem(t).Code)

		// A decision on the old revision: 409 on both.
		page = carol.postOnce(requestPath(whole.ID, "approve"), decisionValues(carol, 1, ""))
		require.Equal(t, http.StatusConflict, page.status)
		resp = env.call(carolToken, http.MethodPost, "/requests/"+strconv.FormatInt(whole.ID, 10)+"/approve", map[string]any{"revision": 1})
		require.Equal(t, http.StatusConflict, resp.status)
		require.Equal(t, "conflict", resp.problem(t).Code)
	})
}

// TestAPIAndFormsAgreeOnTeamRules: with teams, a refusal of the team rules
// is the same through the form and the API: alice, a developer of
// analytics, may not delete clickstream's cluster; both answer 403 with
// the same words saying what would grant it.
func TestAPIAndFormsAgreeOnTeamRules(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, apiEnvOptions{governed: true})
	alice := env.signedInWith("alice", "developers", "analytics-devs")
	uid := env.uid("clickstream-dev")
	page := alice.postOnce("/clusters/"+uid+"/requests", url.Values{"csrf_token": {alice.csrfToken()},
		"kind": {"delete"}, "reason": {"cleanup"}, "confirm_name": {"clickstream-dev"}})
	require.Equal(t, http.StatusForbidden, page.status, page.body)

	var id int64
	require.NoError(t, env.pool.QueryRow(t.Context(), `SELECT id FROM users WHERE username = 'alice'`).Scan(&id))
	secret, _, err := env.auth.CreateToken(t.Context(), auth.User{ID: id, Username: "alice"}, auth.NewToken{
		Name: "alice-ci", Scopes: auth.Scopes(), Lifetime: 24 * time.Hour}, audit.Origin{IP: "192.0.2.9"})
	require.NoError(t, err)
	resp := env.call(secret, http.MethodPost, "/requests", map[string]any{"kind": "delete", "cluster_uid": uid,
		"reason": "cleanup", "confirm_name": "clickstream-dev"})
	require.Equal(t, http.StatusForbidden, resp.status, string(resp.body))
	p := resp.problem(t)
	require.Equal(t, "not-permitted", p.Code)
	require.NotEmpty(t, p.Detail)
	require.Contains(t, html.UnescapeString(page.body), p.Detail, "the same words as the form")
}
