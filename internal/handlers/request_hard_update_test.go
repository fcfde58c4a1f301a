package handlers

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// hardUpdateSlot is the inner HTML of field's hard update slot in body, and
// whether the slot is there.
func hardUpdateSlot(body, field string) (string, bool) {
	re := regexp.MustCompile(`(?s)<div id="` + regexp.QuoteMeta(field) + `-hard-update" class="hard-update-slot" data-testid="` +
		regexp.QuoteMeta(field) + `-hard-update"[^>]*>(.*?)</div>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// forcedCalls counts the simulator's calls of op with force=true, split
// into dry runs and real ones.
func forcedCalls(s *sim.Server, op cloudapi.Operation) (dry, real int) {
	for _, c := range s.Calls() {
		if c.Operation != op || !strings.Contains(c.Path, "force=true") {
			continue
		}
		if strings.Contains(c.Path, "dryRun=true") {
			dry++
		} else {
			real++
		}
	}
	return dry, real
}

// A version upgrade of analytics-staging (one master) can only be a hard
// update: the update form says so at the version field and offers the
// choice beside it, live and on submit; filing without it is refused,
// filing with it records it, and the request page, the risk hints and the
// policy show it.
func TestSpecUpdateOffersAHardUpdateAtTheVersion(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	uid := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)
	page := alice.get("/clusters/" + uid + "/update")
	require.Equal(t, http.StatusOK, page.status)
	slot, ok := hardUpdateSlot(page.body, "version")
	require.True(t, ok, "the slot is there for the live check to fill")
	require.Empty(t, strings.TrimSpace(slot), "nothing offered before Cloud Manager asks for it")

	form := specValues(alice, cl.Spec, "", "The 2024.07 release fixes the lookup bug")
	form.Set("seen_resource_version", strconv.FormatInt(cl.ResourceVersion, 10))
	form.Set("version", "2024.07")

	// The live check: the message at the version, the checkbox beside it.
	live := alice.postOnce("/clusters/"+uid+"/update/validate", form, "HX-Request", "true")
	require.Equal(t, http.StatusOK, live.status, live.body)
	msg, _ := errorSlot(live.body, "version")
	require.Contains(t, msg, "only as a hard update")
	slot, ok = hardUpdateSlot(live.body, "version")
	require.True(t, ok)
	require.Contains(t, slot, `data-testid="hard-update-checkbox"`)
	require.Contains(t, slot, `aria-describedby="version-error"`)
	require.NotContains(t, slot, "checked")
	require.Contains(t, html.UnescapeString(slot), "Allow a hard update: all servers restart at once (downtime)")
	require.Contains(t, live.body, `<div id="version-hard-update" class="hard-update-slot" data-testid="version-hard-update" hx-swap-oob="true">`)
	msg, _ = errorSlot(live.body, "spec_json")
	require.Empty(t, msg, "the finding is not about the whole spec")

	// Filing without the choice is refused, with the message at the version.
	resp := alice.postOnce("/clusters/"+uid+"/update", form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	msg, _ = errorSlot(resp.body, "version")
	require.Contains(t, msg, "only as a hard update")
	slot, _ = hardUpdateSlot(resp.body, "version")
	require.Contains(t, slot, `id="hard_update"`)
	require.Contains(t, resp.body, `<a href="#version">Imply version: Cloud Manager can apply this change only as a hard update`)
	require.Zero(t, f.countRows("change_requests"))

	// With the choice ticked, the forced dry run accepts it: the preview
	// shows the hint and what it takes, the checkbox stays (ticked).
	f.sim.ResetCalls()
	form.Set("hard_update", "on")
	live = alice.postOnce("/clusters/"+uid+"/update/validate", form, "HX-Request", "true")
	require.Equal(t, http.StatusOK, live.status)
	msg, _ = errorSlot(live.body, "version")
	require.Empty(t, msg)
	slot, _ = hardUpdateSlot(live.body, "version")
	require.Contains(t, slot, "checked")
	body := html.UnescapeString(live.body)
	require.Contains(t, body, `data-testid="hard-update-note"`)
	require.Contains(t, body, "Hard update (force=true): every affected server restarts at once")
	require.Contains(t, body, "Policy <strong>hard-update</strong>")
	dry, real := forcedCalls(f.sim, cloudapi.OpUpdateCluster)
	require.Equal(t, 1, dry)
	require.Zero(t, real)

	r := f.filedRequest(alice.postOnce("/clusters/"+uid+"/update", form))
	require.True(t, r.Revision.Payload.HardUpdate)
	require.Contains(t, r.Revision.RiskCodes(), approvals.RiskHardUpdate)

	// The approver's page: the hint in words, the note beside the diff,
	// two approvals needed, Cloud Manager's forced dry run (the worker's)
	// accepts it.
	runDryRuns(t, f.pool, f.server.deps.Cloud)
	bob, _ := f.signedIn("bob")
	shown := bob.get(requestPath(r.ID))
	require.Equal(t, http.StatusOK, shown.status)
	body = html.UnescapeString(shown.body)
	require.Contains(t, body, `<li data-testid="risk-hint">Hard update (force=true): every affected server restarts at once`)
	require.Contains(t, body, `data-testid="hard-update-note"`)
	require.Contains(t, body, "0 of 2 approvals given")
	require.Contains(t, body, "It is sent as a hard update (force=true), as the requester chose.")
	require.Contains(t, body, `data-testid="approve-button"`)
	_, real = forcedCalls(f.sim, cloudapi.OpUpdateCluster)
	require.Zero(t, real, "nothing is sent for real before the approvals")

	// Editing keeps the choice ticked beside the version; unticking it
	// (an edit like any other) stores a revision without it.
	edit := alice.get(requestPath(r.ID, "edit"))
	require.Equal(t, http.StatusOK, edit.status)
	slot, _ = hardUpdateSlot(edit.body, "version")
	require.Contains(t, slot, "checked")
	form.Del("hard_update")
	form.Set("revision", "1")
	resp = alice.postOnce(requestPath(r.ID, "edit"), form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.status, "without the choice the edit is refused too")
	msg, _ = errorSlot(resp.body, "version")
	require.Contains(t, msg, "only as a hard update")
}

// In JSON mode the version has no input: the message goes to the top and
// the choice sits beside the JSON editor.
func TestSpecUpdateOffersAHardUpdateInJSONMode(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	uid := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)
	spec := cl.Spec
	spec.Version = "2024.07"
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	form := url.Values{"csrf_token": {alice.csrfToken()}, "mode": {"json"}, "spec_json": {string(raw)},
		"spec_base": {specBaseText(cl.Spec)}, "reason": {"new release"},
		"seen_resource_version": {strconv.FormatInt(cl.ResourceVersion, 10)}}
	resp := alice.postOnce("/clusters/"+uid+"/update", form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	require.Contains(t, html.UnescapeString(resp.body), `<li data-testid="spec-top-error">Imply version: Cloud Manager can apply this change only as a hard update`)
	slot, _ := hardUpdateSlot(resp.body, "spec_json")
	require.Contains(t, slot, `data-testid="hard-update-checkbox"`)
	_, versionSlot := hardUpdateSlot(resp.body, "version")
	require.False(t, versionSlot, "no version input in JSON mode")

	form.Set("hard_update", "on")
	r := f.filedRequest(alice.postOnce("/clusters/"+uid+"/update", form))
	require.True(t, r.Revision.Payload.HardUpdate)
}

// A replace is dry-run as its PUT: a refusal shows on the JSON field and
// stops the filing; the choice of a hard update (posted as hard_update)
// lets the forced dry run accept it.
func TestHistoryReplaceIsDryRun(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	staging := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, staging)
	require.NoError(t, err)
	spec := cl.Spec
	spec.Version = "2024.07"
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	post := func(action string, extra ...string) response {
		form := url.Values{"csrf_token": {alice.csrfToken()}, "action": {action}, "spec_json": {string(raw)},
			"reason": {"the new release"}, "seen": {strconv.FormatInt(cl.ResourceVersion, 10)}}
		for i := 0; i+1 < len(extra); i += 2 {
			form.Set(extra[i], extra[i+1])
		}
		return alice.postOnce("/clusters/"+staging+"/replace", form)
	}

	f.sim.ResetCalls()
	check := post("check")
	require.Equal(t, http.StatusUnprocessableEntity, check.status)
	body := html.UnescapeString(check.body)
	require.Contains(t, body, "Cloud Manager would refuse this specification (a dry run: nothing was changed): spec.version: Cloud Manager can apply this change only as a hard update")
	require.Equal(t, 1, dryRuns(f.sim, cloudapi.OpReplaceCluster))
	require.Contains(t, check.body, `data-testid="hard-update-checkbox"`, "the choice is offered beside the refusal")
	require.Contains(t, check.body, `aria-describedby="spec_json-error"`)
	file := post("file")
	require.Equal(t, http.StatusUnprocessableEntity, file.status)
	require.Zero(t, f.countRows("change_requests"), "refused by the API's dry run, nothing is filed")

	r := f.filedRequest(post("file", "hard_update", "on"))
	require.Equal(t, approvals.KindReplace, r.Kind)
	require.True(t, r.Revision.Payload.HardUpdate)
	dry, real := forcedCalls(f.sim, cloudapi.OpReplaceCluster)
	require.Equal(t, 1, dry)
	require.Zero(t, real)
	for _, c := range f.sim.Calls() {
		require.False(t, c.Mutated, "only dry runs: %s %s", c.Method, c.Path)
	}
}

// A rollback is dry-run as its PUT before it is filed: a rollback to the
// release before, on a one-master cluster, is refused without the choice
// of a hard update.
func TestHistoryRollbackIsDryRun(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	staging := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, staging)
	require.NoError(t, err)
	path := "/clusters/" + staging + "/versions/0/rollback"
	form := alice.get(path)
	require.Equal(t, http.StatusOK, form.status)
	require.NotContains(t, form.body, `data-testid="hard-update-checkbox"`, "no choice before a dry run asks for it")
	post := func(extra ...string) response {
		form := url.Values{"csrf_token": {alice.csrfToken()}, "reason": {"2024.01 breaks a dashboard"},
			"seen": {strconv.FormatInt(cl.ResourceVersion, 10)}}
		for i := 0; i+1 < len(extra); i += 2 {
			form.Set(extra[i], extra[i+1])
		}
		return alice.postOnce(path, form)
	}
	f.sim.ResetCalls()
	refused := post()
	require.Equal(t, http.StatusUnprocessableEntity, refused.status)
	require.Contains(t, html.UnescapeString(refused.body), "Cloud Manager would refuse this rollback (a dry run: nothing was changed), so it was not filed: spec.version: Cloud Manager can apply this change only as a hard update")
	require.Equal(t, 1, dryRuns(f.sim, cloudapi.OpReplaceCluster))
	require.Zero(t, f.countRows("change_requests"))
	require.Contains(t, refused.body, `data-testid="hard-update-checkbox"`, "the choice is offered beside the refusal")
	require.Contains(t, refused.body, `aria-describedby="rollback-errors"`)

	r := f.filedRequest(post("hard_update", "on"))
	require.Equal(t, approvals.KindRollback, r.Kind)
	require.True(t, r.Revision.Payload.HardUpdate)
	require.Equal(t, "2023.10", r.Revision.ProposedSpec.Version)
}

// Rollbacks and replaces are dry-run for approvers too: a refusal stops
// the approval.
func TestReplacingRequestsAreCheckedForApprovers(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	_, aliceID := f.signedIn("alice")
	staging := f.uid("analytics-staging")
	actor := approvals.Actor{UserID: aliceID, Name: "Alice Anderson", Groups: []string{"developers"}}
	_, err := f.syncer.Version(t.Context(), staging, 0) // as the rollback form does
	require.NoError(t, err)
	rollback, err := f.service.Create(t.Context(), actor, approvals.NewRequest{Kind: approvals.KindRollback, ClusterUID: staging,
		Reason: "filed before the check", RollbackTo: ptrInt64(0)})
	require.NoError(t, err)
	cl, err := inventory.ClusterGet(t.Context(), f.pool, staging)
	require.NoError(t, err)
	bigger := cl.Spec
	bigger.Data = &cloudapi.DataConfig{Tier1: &cloudapi.DataTier{Replicas: ptrInt32(3), InstanceType: "m5d.xlarge"}}
	replace, err := f.service.Create(t.Context(), actor, approvals.NewRequest{Kind: approvals.KindReplace, ClusterUID: staging,
		Reason: "three data servers", Spec: &bigger, SeenResourceVersion: &cl.ResourceVersion})
	require.NoError(t, err)

	bob, _ := f.signedIn("bob")
	f.sim.ResetCalls()
	runDryRuns(t, f.pool, f.server.deps.Cloud) // the worker's job, in the background
	require.Equal(t, 2, dryRuns(f.sim, cloudapi.OpReplaceCluster))
	f.sim.ResetCalls()
	refused := html.UnescapeString(bob.get(requestPath(rollback.ID)).body)
	require.Contains(t, refused, "Cloud Manager would refuse this change (dry run), so it cannot be approved: spec.version: Cloud Manager can apply this change only as a hard update")
	require.Contains(t, refused, "The requester must cancel it and file a new request.")
	require.Contains(t, refused, `data-testid="plan-headline"><strong>Needs a hard update · `, "the plan says what the dry run found")
	require.NotContains(t, refused, `data-testid="approve-button"`)
	require.Contains(t, refused, `data-testid="reject-form"`, "a rejection stays possible")

	accepted := html.UnescapeString(bob.get(requestPath(replace.ID)).body)
	require.Contains(t, accepted, "Cloud Manager's dry run accepts this change.")
	require.Contains(t, accepted, `data-testid="approve-button"`)
	require.Empty(t, f.sim.Calls(), "the pages read the stored dry runs")
}

func ptrInt64(n int64) *int64 { return &n }
