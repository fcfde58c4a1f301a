package handlers

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/specform"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// newSpecFixture is the decide fixture with the built-in presets and,
// when cloud is set, Cloud Manager's dry run (the simulator).
func newSpecFixture(t *testing.T, cloud bool) *decideFixture {
	t.Helper()
	f := newDecideFixture(t)
	if cloud {
		f.server.deps.Cloud = f.client
	}
	f.server.deps.Presets = specform.BuiltinPresets()
	return f
}

func presetSpec(t *testing.T, name string) cloudapi.ClusterSpec {
	t.Helper()
	p, ok := specform.PresetByName(specform.BuiltinPresets(), name)
	require.True(t, ok, name)
	return p.Spec
}

// specValues is what the form posts for spec in form mode.
func specValues(b *browser, spec cloudapi.ClusterSpec, name, reason string) url.Values {
	v := specform.Encode(spec)
	v.Set("csrf_token", b.csrfToken())
	v.Set("mode", "form")
	v.Set("spec_base", specBaseText(spec))
	v.Set("name", name)
	v.Set("reason", reason)
	return v
}

// errorSlot is the text of field's error slot in body (with the text of a
// link in it), and whether the slot is there.
func errorSlot(body, field string) (string, bool) {
	re := regexp.MustCompile(`<small id="` + regexp.QuoteMeta(field) + `-error" class="field-error" data-testid="` +
		regexp.QuoteMeta(field) + `-error" data-error-for="` + regexp.QuoteMeta(field) + `"[^>]*>(.*?)</small>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], "")), true
}

// runDryRuns does what the worker's request_dry_run jobs do for every
// pending request: its revision's dry run, sent with api and stored.
func runDryRuns(t *testing.T, pool *pgxpool.Pool, api approvals.DryRunner) {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT id FROM change_requests WHERE state = 'pending' ORDER BY id`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	for _, id := range ids {
		_, err := approvals.RunDryRun(t.Context(), pool, api, id)
		require.NoError(t, err)
	}
}

func dryRuns(s *sim.Server, op cloudapi.Operation) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Operation == op && strings.Contains(c.Path, "dryRun=true") {
			n++
		}
	}
	return n
}

func TestSpecCreateFilesTheRequest(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")

	page := alice.get("/clusters/new?preset=" + url.QueryEscape("small development cluster"))
	require.Equal(t, http.StatusOK, page.status, page.body)
	require.Contains(t, page.body, `value="s3://example-druid-dev/segments"`)
	require.Contains(t, page.body, `<option value="small development cluster" selected`)
	require.Contains(t, page.body, `hx-post="/clusters/new/validate" hx-trigger="input changed delay:600ms" hx-swap="none"`)

	spec := presetSpec(t, "small development cluster")
	form := specValues(alice, spec, "sandbox-dev", "Try the new ingestion")
	form.Set("query_replicas", "2")
	r := f.filedRequest(alice.postOnce("/clusters/new", form))
	require.Equal(t, approvals.KindCreate, r.Kind)
	require.Equal(t, approvals.StatePending, r.State)
	require.Equal(t, "sandbox-dev", r.ClusterName)
	require.Equal(t, "Alice Anderson", r.Requester.Name)
	*spec.Query.Replicas = 2
	want, _ := json.Marshal(spec)
	got, _ := json.Marshal(r.Revision.ProposedSpec)
	require.JSONEq(t, string(want), string(got))
	require.Equal(t, 1, dryRuns(f.sim, cloudapi.OpCreateCluster), "Cloud Manager checked it before filing")
	require.Contains(t, alice.get(requestPath(r.ID)).body, "sandbox-dev (to be created)")

	t.Run("the request links to the cluster once it exists", func(t *testing.T) {
		bob, _ := f.signedIn("bob")
		require.Equal(t, http.StatusSeeOther, bob.postOnce(requestPath(r.ID, "approve"), decisionValues(bob, 1, "")).status)
		_, err := f.pool.Exec(t.Context(), `UPDATE submissions SET cluster_uid = 'cl-made' WHERE request_id = $1`, r.ID)
		require.NoError(t, err)
		require.Contains(t, alice.get(requestPath(r.ID)).body, `<a href="/clusters/cl-made" data-testid="request-cluster">sandbox-dev</a>`)
	})

	t.Run("copy an existing cluster", func(t *testing.T) {
		page := alice.get("/clusters/new?from=" + f.uid("analytics-staging"))
		require.Equal(t, http.StatusOK, page.status)
		require.Contains(t, page.body, `value="s3://acme-druid-staging/segments"`)
		require.Regexp(t, `<input type="text" id="name" name="name" value=""`, page.body, "the name is not copied")
	})
	t.Run("unknown preset", func(t *testing.T) {
		require.Equal(t, http.StatusNotFound, alice.get("/clusters/new?preset=nope").status)
	})
	t.Run("approvers who are not requesters may not file", func(t *testing.T) {
		carol, _ := f.signedIn("carol")
		require.Equal(t, http.StatusForbidden, carol.get("/clusters/new").status)
		require.Equal(t, http.StatusForbidden, carol.postOnce("/clusters/new", specValues(carol, spec, "x", "y")).status)
	})
}

func TestSpecCreateKeepsEverythingOnAnError(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	form := specValues(alice, presetSpec(t, "highly available production"), "orders-prod", "New shop analytics")
	form.Set("deep_storage_path", "bucket/x")
	form.Set("master_replicas", "abc")
	form["aws_tags_name"] = append(form["aws_tags_name"], "owner")
	form["aws_tags_value"] = append(form["aws_tags_value"], "shop team")

	resp := alice.postOnce("/clusters/new", form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	msg, ok := errorSlot(resp.body, "master_replicas")
	require.True(t, ok)
	require.Equal(t, `Master replicas must be a whole number, not "abc"`, msg)
	msg, _ = errorSlot(resp.body, "deep_storage_path")
	require.Equal(t, "Path is not a valid s3 path", msg)
	require.Regexp(t, `id="master_replicas" name="master_replicas" value="abc" aria-describedby="master_replicas-error" aria-invalid="true" autofocus`, resp.body)
	for _, kept := range []string{`value="bucket/x"`, `value="orders-prod"`, `>New shop analytics</textarea>`, `value="owner"`, `value="shop team"`, `value="db.r5.large"`} {
		require.Contains(t, resp.body, kept)
	}
	require.Contains(t, resp.body, "Path is not a valid s3 path</a>", "the summary links to the field")
	require.Zero(t, f.countRows("change_requests"))

	t.Run("without a parse error Cloud Manager is asked", func(t *testing.T) {
		f.sim.ResetCalls()
		form.Set("master_replicas", "3")
		resp := alice.postOnce("/clusters/new", form)
		require.Equal(t, http.StatusUnprocessableEntity, resp.status)
		msg, _ := errorSlot(resp.body, "deep_storage_path")
		require.Equal(t, "Path is not a valid s3 path", msg)
		require.Equal(t, 1, dryRuns(f.sim, cloudapi.OpCreateCluster))
		require.Contains(t, resp.body, specAPIChecked)
	})
	t.Run("a missing reason", func(t *testing.T) {
		form.Set("deep_storage_path", "s3://bucket/x")
		form.Set("reason", " ")
		resp := alice.postOnce("/clusters/new", form)
		require.Equal(t, http.StatusUnprocessableEntity, resp.status)
		msg, _ := errorSlot(resp.body, "reason")
		require.Contains(t, msg, "Say why")
	})
}

func TestSpecValidateAnswersWithErrorSlotsOnly(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	form := specValues(alice, presetSpec(t, "small development cluster"), "", "")
	form.Set("deep_storage_path", "bucket/x")
	form.Set("pivot_url", "https://pivot.example.com")

	resp := alice.postOnce("/clusters/new/validate", form, "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	require.NotContains(t, resp.body, "<input", "inputs are never replaced")
	require.NotContains(t, resp.body, "<textarea")
	msg, _ := errorSlot(resp.body, "deep_storage_path")
	require.Equal(t, "Path is not a valid s3 path", msg)
	msg, _ = errorSlot(resp.body, "pivot_url")
	require.Equal(t, "URL is allowed only with access mode NATIVE, OIDC or LDAP", msg)
	msg, _ = errorSlot(resp.body, "name")
	require.NotEmpty(t, msg)
	msg, ok := errorSlot(resp.body, "reason")
	require.True(t, ok)
	require.Empty(t, msg, "a missing reason is not nagged about while typing")
	msg, ok = errorSlot(resp.body, "version")
	require.True(t, ok, "every slot is sent, so fixed fields are emptied")
	require.Empty(t, msg)
	require.Equal(t, len(regexp.MustCompile(`<small id="[a-z0-9_]+-error"[^>]*hx-swap-oob="true"`).FindAllString(resp.body, -1)),
		strings.Count(resp.body, "<small"), "every slot swaps out of band")
	require.Contains(t, resp.body, `<div id="spec-summary" data-testid="spec-summary" aria-live="polite" hx-swap-oob="true">`)
	require.Equal(t, 1, dryRuns(f.sim, cloudapi.OpCreateCluster))
	require.Zero(t, f.countRows("change_requests"))
}

func TestSpecFormWithoutCloudManager(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, false)
	alice, _ := f.signedIn("alice")
	form := specValues(alice, presetSpec(t, "small development cluster"), "offline-dev", "Local rules only")
	form.Set("deep_storage_path", "bucket/x")
	resp := alice.postOnce("/clusters/new", form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	msg, _ := errorSlot(resp.body, "deep_storage_path")
	require.Equal(t, "Path is not a valid s3 path", msg, "the local rule's message")
	require.Contains(t, resp.body, html.EscapeString(specAPIOff))

	form.Set("deep_storage_path", "s3://bucket/x")
	r := f.filedRequest(alice.postOnce("/clusters/new", form))
	require.Equal(t, "offline-dev", r.ClusterName)
}

func TestSpecFormHasAPlaceForEveryTarget(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	body := alice.get("/clusters/new").body
	for _, field := range approvals.FormFields() {
		_, ok := errorSlot(body, field.Name)
		require.True(t, ok, "no error slot for %s", field.Name)
		require.Contains(t, body, `id="`+field.Name+`"`, "no input or fieldset with the id %s", field.Name)
	}
	for _, target := range append(sim.ValidationTargets(), "spec", "metadata.name", "spec.awsTags[1].name") {
		field, ok := approvals.FieldForTarget(target)
		require.True(t, ok, target)
		_, ok = errorSlot(body, field)
		require.True(t, ok, "%s: no slot for %s", target, field)
	}
}

func TestSpecModesSwitchWithoutLoss(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	form := specValues(alice, presetSpec(t, "small development cluster"), "json-dev", "Typed in JSON")
	form.Set("master_instance_type", "m5.xlarge")
	form.Set("switch_to", "json")
	resp := alice.postOnce("/clusters/new", form)
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	require.Contains(t, resp.body, `<textarea id="spec_json" name="spec_json"`)
	require.Contains(t, html.UnescapeString(resp.body), `"instanceType": "m5.xlarge"`)
	require.Contains(t, resp.body, `value="json-dev"`)

	doc := specform.EncodeJSON(presetSpec(t, "small development cluster"))
	doc = strings.Replace(doc, "{", `{"futureMember": {"keep": true},`, 1)
	back := url.Values{"csrf_token": {form.Get("csrf_token")}, "mode": {"json"}, "spec_json": {doc}, "name": {"json-dev"},
		"reason": {"Typed in JSON"}, "switch_to": {"form"}}
	resp = alice.postOnce("/clusters/new", back)
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	require.Contains(t, resp.body, `id="deep_storage_path" name="deep_storage_path" value="s3://example-druid-dev/segments"`)
	require.Contains(t, html.UnescapeString(resp.body), `"futureMember":{"keep":true}`, "the form carries what it does not show")

	t.Run("a syntax error stays on the editor", func(t *testing.T) {
		bad := url.Values{"csrf_token": {form.Get("csrf_token")}, "mode": {"json"}, "spec_json": {"{\n  \"version\": 2024,,\n}"},
			"name": {"json-dev"}, "reason": {"x"}, "switch_to": {"form"}}
		resp := alice.postOnce("/clusters/new", bad)
		require.Equal(t, http.StatusUnprocessableEntity, resp.status)
		msg, _ := errorSlot(resp.body, "spec_json")
		require.Contains(t, msg, "Line 2, column 19:")
		require.Contains(t, resp.body, "2024,,", "the text typed is kept")
	})
	t.Run("filing from the editor keeps unknown members", func(t *testing.T) {
		back.Del("switch_to")
		r := f.filedRequest(alice.postOnce("/clusters/new", back))
		require.Contains(t, r.Revision.ProposedSpec.Extra, "futureMember")
	})
}

func TestSpecUpdateStoresTheMinimalPatch(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	uid := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)

	page := alice.get("/clusters/" + uid)
	require.Contains(t, page.body, `href="/clusters/`+uid+`/update"`, "the cluster page offers the form")
	page = alice.get("/clusters/" + uid + "/update")
	require.Equal(t, http.StatusOK, page.status, page.body)
	require.Contains(t, page.body, `name="seen_resource_version" value="`+strconv.FormatInt(cl.ResourceVersion, 10)+`"`)
	require.Contains(t, page.body, `id="deep_storage_path" name="deep_storage_path" value="s3://acme-druid-staging/segments"`)
	require.Contains(t, page.body, `<option value="PROXIED" selected>`)

	form := specValues(alice, cl.Spec, "", "Nothing")
	form.Set("seen_resource_version", strconv.FormatInt(cl.ResourceVersion, 10))
	resp := alice.postOnce("/clusters/"+uid+"/update", form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	require.Contains(t, resp.body, "This request would change nothing")

	f.sim.ResetCalls()
	form.Set("data_tier1_replicas", "3")
	form.Set("reason", "More data")
	form.Set("state", "approved")
	form.Set("requester_id", "1")
	r := f.filedRequest(alice.postOnce("/clusters/"+uid+"/update", form))
	require.Equal(t, approvals.KindUpdate, r.Kind)
	require.Equal(t, approvals.StatePending, r.State, "state=approved went nowhere")
	require.Equal(t, "Alice Anderson", r.Requester.Name)
	require.Equal(t, []string{"spec.data.tier1.replicas"}, r.Revision.Diff.Paths())
	patch, err := r.Revision.Patch()
	require.NoError(t, err)
	require.JSONEq(t, `{"spec": {"data": {"tier1": {"replicas": 3}}}}`, string(patch))
	require.Equal(t, 1, dryRuns(f.sim, cloudapi.OpUpdateCluster))

	t.Run("an old form is refused", func(t *testing.T) {
		form.Set("seen_resource_version", strconv.FormatInt(cl.ResourceVersion-1, 10))
		resp := alice.postOnce("/clusters/"+uid+"/update", form)
		require.Equal(t, http.StatusUnprocessableEntity, resp.status)
		require.Contains(t, resp.body, "The cluster changed since this form was opened")
		require.Contains(t, resp.body, `id="data_tier1_replicas" name="data_tier1_replicas" value="3"`)
	})
}

func TestSpecCreateIgnoresExtraFieldsAndEscapes(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, aliceID := f.signedIn("alice")
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	form := specValues(alice, presetSpec(t, "small development cluster"), "x"+evil, "Because "+evil)
	form["aws_tags_name"] = []string{"n" + evil}
	form["aws_tags_value"] = []string{"v" + evil}
	form.Set("deep_storage_path", "bucket"+evil)
	for _, path := range []string{"/clusters/new", "/clusters/new/validate"} {
		resp := alice.postOnce(path, form)
		require.Contains(t, []int{http.StatusOK, http.StatusUnprocessableEntity}, resp.status, path)
		for _, raw := range []string{"<script>alert(1)", "<img src=x onerror"} {
			require.NotContains(t, resp.body, raw, path)
		}
	}

	form.Set("deep_storage_path", "s3://bucket/x")
	form.Set("state", "approved")
	form.Set("requester_id", "1")
	form.Set("revision", "7")
	r := f.filedRequest(alice.postOnce("/clusters/new", form))
	require.Equal(t, approvals.StatePending, r.State)
	require.Equal(t, aliceID, r.Requester.ID)
	require.Equal(t, 1, r.Revision.Number)
	page := alice.get(requestPath(r.ID))
	require.NotContains(t, page.body, "<script>alert")
}

func TestSpecEditMakesARevisionAndVoidsApprovals(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	spec := presetSpec(t, "highly available production") // production: two approvals
	r := f.filedRequest(alice.postOnce("/clusters/new", specValues(alice, spec, "orders-prod", "New shop analytics")))

	bob, bobID := f.signedIn("bob")
	resp := bob.postOnce(requestPath(r.ID, "approve"), decisionValues(bob, 1, "Looks right"))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	require.Equal(t, approvals.StatePending, f.state(r.ID), "one of two approvals")
	require.Equal(t, http.StatusForbidden, bob.get(requestPath(r.ID, "edit")).status, "only the requester or an admin")

	page := alice.get(requestPath(r.ID, "edit"))
	require.Equal(t, http.StatusOK, page.status, page.body)
	require.Contains(t, page.body, `name="revision" value="1"`)
	require.Contains(t, page.body, `value="orders-prod"`)
	require.Contains(t, page.body, `>New shop analytics</textarea>`)

	form := specValues(alice, spec, "orders-prod", "New shop analytics, bigger")
	form.Set("revision", "1")
	form.Set("query_replicas", "3")
	require.Equal(t, http.StatusSeeOther, alice.postOnce(requestPath(r.ID, "edit"), form).status)
	edited, err := approvals.Get(t.Context(), f.pool, r.ID)
	require.NoError(t, err)
	require.Equal(t, 2, edited.Revision.Number)
	require.Equal(t, approvals.StatePending, edited.State)
	require.EqualValues(t, 3, *edited.Revision.ProposedSpec.Query.Replicas)
	takes, err := approvals.WhatItTakes(t.Context(), f.pool, r.ID, approvals.Actor{UserID: bobID})
	require.NoError(t, err)
	require.Zero(t, takes.Evaluation.Given(), "bob's approval was of revision 1")

	t.Run("an edit of an old revision", func(t *testing.T) {
		form.Set("query_replicas", "4")
		resp := alice.postOnce(requestPath(r.ID, "edit"), form)
		require.Equal(t, http.StatusUnprocessableEntity, resp.status)
		require.Contains(t, resp.body, "Someone changed the request since you opened this form")
		require.Contains(t, resp.body, `id="query_replicas" name="query_replicas" value="4"`)
	})
	t.Run("rebase refuses a create request", func(t *testing.T) {
		resp := alice.postOnce(requestPath(r.ID, "rebase"), url.Values{"csrf_token": {alice.csrfToken()}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	})
}

func TestSpecRebaseMovesAStaleRequest(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	uid := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)
	form := specValues(alice, cl.Spec, "", "Bigger query servers")
	form.Set("seen_resource_version", strconv.FormatInt(cl.ResourceVersion, 10))
	form.Set("query_replicas", "2")
	r := f.filedRequest(alice.postOnce("/clusters/"+uid+"/update", form))

	// Someone else changes the cluster: the request goes stale.
	_, err = f.client.UpdateCluster(t.Context(), uid, json.RawMessage(`{"spec": {"awsKeyPair": "ops"}}`), cloudapi.Force())
	require.NoError(t, err)
	// A sync as `portal serve` wires it marks the request stale.
	_, err = inventory.NewSyncer(f.pool, f.client, inventory.Config{OnChange: approvals.ClusterChanged}).Sync(t.Context())
	require.NoError(t, err)
	require.Equal(t, approvals.StateStale, f.state(r.ID))

	show := alice.get(requestPath(r.ID))
	require.Contains(t, show.body, `data-testid="rebase-form"`, "the request page offers the rebase")
	require.Contains(t, show.body, `data-testid="edit-link"`)
	bob := f.browser()
	bob.signIn("bob", "/")
	require.NotContains(t, bob.get(requestPath(r.ID)).body, `data-testid="request-author-actions"`, "only to its author")
	page := alice.get(requestPath(r.ID, "edit"))
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `data-testid="spec-rebase"`)
	resp := alice.postOnce(requestPath(r.ID, "rebase"), url.Values{"csrf_token": {alice.csrfToken()}})
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	rebased, err := approvals.Get(t.Context(), f.pool, r.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StatePending, rebased.State)
	require.Equal(t, 2, rebased.Revision.Number)
	require.Equal(t, "ops", rebased.Revision.ProposedSpec.AWSKeyPair, "the other change is kept")
	require.Equal(t, []string{"spec.query.replicas"}, rebased.Revision.Diff.Paths())
}

func TestSpecCheckForApprovers(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	r := f.filedRequest(alice.postOnce("/clusters/new", specValues(alice, presetSpec(t, "small development cluster"), "check-dev", "Checked again")))
	check := func(server *Server) templates.RequestShowView {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, requestPath(r.ID), nil)
		c := server.echo.NewContext(req, httptest.NewRecorder())
		got, err := approvals.Get(t.Context(), f.pool, r.ID)
		require.NoError(t, err)
		// The worker's background dry run, then the page's read of it.
		_, err = approvals.RunDryRun(t.Context(), f.pool, server.deps.Cloud, r.ID)
		require.NoError(t, err)
		v := templates.RequestShowView{CanApprove: true}
		require.NoError(t, server.requestSpecCheck(c.Request().Context(), got, &v))
		return v
	}

	v := check(f.server)
	require.True(t, v.CanApprove)
	require.Equal(t, "Cloud Manager's dry run accepts this change.", v.Live)
	require.NotEmpty(t, v.Freshness.CheckedAt.At, "when it ran")

	// The API's rules changed since filing: it refuses the proposal now.
	_, err := f.pool.Exec(t.Context(), `UPDATE request_revisions SET proposed_spec = jsonb_set(proposed_spec, '{deepStorage,path}', '"bucket/x"') WHERE request_id = $1`, r.ID)
	require.NoError(t, err)
	v = check(f.server)
	require.False(t, v.CanApprove)
	require.Contains(t, v.Live, "Cloud Manager would refuse this change (dry run), so it cannot be approved: spec.deepStorage.path: Path is not a valid s3 path.")

	unreachable := New(f.server.deps)
	unreachable.deps.Cloud = simtest.Client(t, f.sim, "http://127.0.0.1:1")
	v = check(unreachable)
	require.True(t, v.CanApprove, "the approver decides")
	require.Contains(t, v.Live, "could not be asked")
}

func TestSpecCheckOnTheRequestPage(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	r := f.filedRequest(alice.postOnce("/clusters/new", specValues(alice, presetSpec(t, "small development cluster"), "page-dev", "Checked on the page")))
	bob, _ := f.signedIn("bob")
	page := bob.get(requestPath(r.ID))
	require.Contains(t, html.UnescapeString(page.body), "Cloud Manager has not checked this change yet", "before the background dry run")

	f.sim.ResetCalls()
	runDryRuns(t, f.pool, f.server.deps.Cloud) // the worker's job
	require.Equal(t, 1, dryRuns(f.sim, cloudapi.OpCreateCluster))
	f.sim.ResetCalls()
	page = bob.get(requestPath(r.ID))
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, html.UnescapeString(page.body), "Cloud Manager's dry run accepts this change.")
	require.Contains(t, page.body, `data-testid="request-freshness"`)
	require.Contains(t, page.body, `data-testid="approve-button"`)
	require.Empty(t, f.sim.Calls(), "the page reads the stored dry run")

	f.sim.ResetCalls()
	require.NotContains(t, html.UnescapeString(alice.get(requestPath(r.ID)).body), "dry run", "the requester cannot approve: no check")
	require.Zero(t, dryRuns(f.sim, cloudapi.OpCreateCluster))
}

func TestSpecFormWhenCloudManagerCannotBeAsked(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, false)
	f.server.deps.Cloud = simtest.Client(t, f.sim, "http://127.0.0.1:1") // nothing listens there
	alice, _ := f.signedIn("alice")
	form := specValues(alice, presetSpec(t, "small development cluster"), "unasked-dev", "The API is down")
	form.Set("master_replicas", "2")
	resp := alice.postOnce("/clusters/new", form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	msg, _ := errorSlot(resp.body, "master_replicas")
	require.Equal(t, "Master replicas must be 1, or 3 or more for high availability", msg, "the local rules still apply")
	require.Contains(t, html.UnescapeString(resp.body), specAPIUnreached)

	form.Set("master_replicas", "1")
	r := f.filedRequest(alice.postOnce("/clusters/new", form))
	require.Equal(t, "unasked-dev", r.ClusterName, "filing works on the local rules")
}

func TestSpecUpdateOfABusyCluster(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	uid := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, Status: http.StatusConflict})
	form := specValues(alice, cl.Spec, "", "While it updates")
	form.Set("seen_resource_version", strconv.FormatInt(cl.ResourceVersion, 10))
	form.Set("data_tier1_replicas", "0")
	resp := alice.postOnce("/clusters/"+uid+"/update/validate", form)
	require.Equal(t, http.StatusOK, resp.status)
	require.Contains(t, html.UnescapeString(resp.body), specAPIBusy)
	msg, _ := errorSlot(resp.body, "data_tier1_replicas")
	require.Equal(t, "Replicas must be at least 1", msg, "the local rules still apply")
}
