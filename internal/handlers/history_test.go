package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// newHistoryFixture is newRequestFixture with an inventory whose hook
// attributes versions (drift) and marks requests stale.
func newHistoryFixture(t *testing.T) *clusterFixture {
	t.Helper()
	f := newClusterFixture(t)
	rules, err := inventory.ParseNameRules("-dev$=development")
	require.NoError(t, err)
	f.syncer = inventory.NewSyncer(f.pool, f.client, inventory.Config{Rules: inventory.Rules{Environments: rules},
		OnChange: approvals.ClusterChanged})
	deps := f.server.deps
	deps.Approvals = approvals.New(f.pool, approvals.Config{})
	deps.Inventory = f.syncer
	f.server = New(deps)
	f.srv.Config.Handler = f.server
	return f
}

// The cluster page lists the versions with who made them and the drift;
// any two compare with the diff table; a rollback form shows the diff
// against the live cluster and the fields not restored, and files a
// rollback request.
func TestHistoryVersionsCompareAndRollback(t *testing.T) {
	t.Parallel()
	f := newHistoryFixture(t)
	staging := f.uid("analytics-staging")
	before, err := inventory.ClusterGet(t.Context(), f.pool, staging)
	require.NoError(t, err)
	_, err = f.client.UpdateCluster(t.Context(), staging,
		json.RawMessage(`{"spec":{"awsTags":[{"name":"env","value":"staging"},{"name":"owner","value":"ops"}]}}`), cloudapi.Force())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		c, err := f.client.GetCluster(t.Context(), staging)
		require.NoError(t, err)
		return !c.Status.State.Busy()
	}, 5*time.Second, 5*time.Millisecond)
	f.sync()
	from, to := strconv.FormatInt(before.ResourceVersion, 10), strconv.FormatInt(before.ResourceVersion+1, 10)

	b := f.browser()
	b.signIn("alice", "/")
	page := b.get("/clusters/" + staging)
	require.Equal(t, http.StatusOK, page.status)
	require.Equal(t, 2, strings.Count(page.body, `data-testid="version-row"`))
	require.Equal(t, 1, strings.Count(page.body, `data-testid="drift-entry"`))
	require.Contains(t, page.body, `data-testid="version-drift"`)
	require.Contains(t, page.body, "Changed outside Clusterdesk")
	require.Contains(t, page.body, `/clusters/`+staging+`/versions/compare?from=`+from+`&amp;to=`+to)
	require.Contains(t, page.body, `/clusters/`+staging+`/versions/`+from+`/rollback`)
	require.NotContains(t, page.body, `/versions/`+to+`/rollback`, "no rollback to the current version")
	erin := f.browser()
	erin.signIn("erin", "/") // an auditor files no requests
	erinsPage := erin.get("/clusters/" + staging).body
	require.NotContains(t, erinsPage, `data-testid="version-rollback"`)
	require.NotContains(t, erinsPage, `data-testid="cluster-operations"`, "nor any other request button")

	cmp := b.get("/clusters/" + staging + "/versions/compare?from=" + from + "&to=" + to)
	require.Equal(t, http.StatusOK, cmp.status)
	require.Contains(t, cmp.body, `data-testid="request-diff"`)
	require.Equal(t, 1, strings.Count(cmp.body, `data-testid="diff-row"`))
	require.Contains(t, cmp.body, `spec.awsTags[&#34;owner&#34;]`)
	require.Equal(t, http.StatusNotFound, b.get("/clusters/"+staging+"/versions/compare?from=0&to=99").status)

	form := b.get("/clusters/" + staging + "/versions/" + from + "/rollback")
	require.Equal(t, http.StatusOK, form.status)
	require.Contains(t, form.body, `data-testid="rollback-form"`)
	require.Equal(t, 1, strings.Count(form.body, `data-testid="diff-row"`))
	require.Equal(t, 2, strings.Count(form.body, `data-testid="not-restored-row"`))
	require.Contains(t, form.body, `data-testid="rollback-policy"`)

	post := func(reason, seen string) response {
		return b.postOnce("/clusters/"+staging+"/versions/"+from+"/rollback",
			url.Values{"csrf_token": {b.csrfToken()}, "reason": {reason}, "seen": {seen}})
	}
	empty := post(" ", to)
	require.Equal(t, http.StatusUnprocessableEntity, empty.status)
	require.Contains(t, empty.body, `data-testid="reason-error"`)
	old := post("tags were wrong", from)
	require.Equal(t, http.StatusUnprocessableEntity, old.status, "a form built on another version is shown again")
	require.Contains(t, old.body, "The cluster changed since the form was shown")

	r := f.filedRequest(post("the owner tag was wrong", to))
	require.Equal(t, approvals.KindRollback, r.Kind)
	require.Equal(t, before.ResourceVersion, *r.Revision.Payload.RollbackTo)
	require.Equal(t, []string{`spec.awsTags["owner"]`}, r.Revision.Diff.Paths())
	show := b.get(requestPath(r.ID))
	require.Equal(t, http.StatusOK, show.status)
	require.Equal(t, 2, strings.Count(show.body, `data-testid="not-restored-row"`), "the request page shows what is not restored")

	// A version from before Clusterdesk followed the cluster is fetched
	// from the history for the form; an unknown one is not found.
	zero := b.get("/clusters/" + staging + "/versions/0/rollback")
	require.Equal(t, http.StatusOK, zero.status)
	require.Contains(t, zero.body, "spec.version")
	require.Equal(t, http.StatusNotFound, b.get("/clusters/"+staging+"/versions/99/rollback").status)
}

// The advanced replace form checks the JSON against the live cluster
// before filing, keeps the access mode when the JSON has none, and files a
// replace request.
func TestHistoryReplaceForm(t *testing.T) {
	t.Parallel()
	f := newHistoryFixture(t)
	staging := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, staging)
	require.NoError(t, err)
	b := f.browser()
	b.signIn("alice", "/")

	form := b.get("/clusters/" + staging + "/replace")
	require.Equal(t, http.StatusOK, form.status)
	require.Contains(t, form.body, `data-testid="replace-form"`)
	require.Contains(t, form.body, "&#34;desiredState&#34;: &#34;STARTED&#34;", "filled with the live spec")

	spec := cl.Spec
	spec.Pivot = nil
	spec.Query.Replicas = ptrInt32(2)
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	seen := strconv.FormatInt(cl.ResourceVersion, 10)
	post := func(action, specJSON, reason string) response {
		return b.postOnce("/clusters/"+staging+"/replace", url.Values{"csrf_token": {b.csrfToken()},
			"action": {action}, "spec_json": {specJSON}, "reason": {reason}, "seen": {seen}})
	}
	bad := post("check", `{"version": `, "")
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, bad.body, `data-testid="spec_json-error"`)

	check := post("check", string(raw), "")
	require.Equal(t, http.StatusOK, check.status)
	require.Equal(t, 1, strings.Count(check.body, `data-testid="diff-row"`))
	require.Contains(t, check.body, "spec.query.replicas")
	require.Equal(t, 1, strings.Count(check.body, `data-testid="not-restored-row"`), "the live access mode is kept")
	require.Contains(t, check.body, `data-testid="replace-policy"`)

	r := f.filedRequest(post("file", string(raw), "two query servers for the load test"))
	require.Equal(t, approvals.KindReplace, r.Kind)
	require.Equal(t, []string{"spec.query.replicas"}, r.Revision.Diff.Paths())
	require.Equal(t, cloudapi.AccessMode("PROXIED"), r.Revision.ProposedSpec.Pivot.AccessMode)
}

func ptrInt32(n int32) *int32 { return &n }

// The request page's history section: for a rebased rollback, the version
// it restores and the fields kept, the diff of diffs, what is new since
// the viewer approved, and the colliding request, linked.
func TestHistoryRequestView(t *testing.T) {
	t.Parallel()
	f := newHistoryFixture(t)
	ctx := t.Context()
	svc := f.server.deps.Approvals
	staging := f.uid("analytics-staging")
	user := func(name string, groups ...string) approvals.Actor {
		var id int64
		require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO users (issuer, subject, username, name, groups, last_login_at)
			VALUES ('https://idp.test', $1, $1, $1, $2, now()) RETURNING id`, "sub-"+name, groups).Scan(&id))
		return approvals.Actor{UserID: id, Name: name, Groups: groups, Approver: slices.Contains(groups, "approvers")}
	}
	ann, ben, cat := user("ann", "developers"), user("ben", "approvers"), user("cat", "developers")
	before, err := inventory.ClusterGet(ctx, f.pool, staging)
	require.NoError(t, err)
	outside := func(patch string) {
		_, err := f.client.UpdateCluster(ctx, staging, json.RawMessage(patch), cloudapi.Force())
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			c, err := f.client.GetCluster(ctx, staging)
			require.NoError(t, err)
			return !c.Status.State.Busy()
		}, 5*time.Second, 5*time.Millisecond)
		f.sync()
	}
	outside(`{"spec":{"data":{"tier1":{"replicas":4}}}}`)
	back, err := svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindRollback, ClusterUID: staging,
		Reason: "undo", RollbackTo: &before.ResourceVersion})
	require.NoError(t, err)
	// A scale-down needs two approvals: ben's is the first.
	live, err := inventory.ClusterGet(ctx, f.pool, staging)
	require.NoError(t, err)
	out, err := svc.Approve(ctx, ben, back.ID, approvals.Approve{Revision: 1, LiveResourceVersion: live.ResourceVersion})
	require.NoError(t, err)
	require.False(t, out.Completed)
	outside(`{"spec":{"data":{"tier1":{"replicas":5}}}}`)
	back, err = svc.Rebase(ctx, ann, back.ID)
	require.NoError(t, err)
	spec := cloneSpecForTest(t, back.Revision.BaseSpec)
	spec.Data.Tier1.Replicas = ptrInt32(3)
	after, err := inventory.ClusterGet(ctx, f.pool, staging)
	require.NoError(t, err)
	other, err := svc.Create(ctx, cat, approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: staging,
		Reason: "three", Spec: spec, SeenResourceVersion: &after.ResourceVersion})
	require.NoError(t, err)

	d, err := approvals.Detail(ctx, f.pool, back.ID)
	require.NoError(t, err)
	v, err := requestHistoryView(ctx, f.pool, d, ben)
	require.NoError(t, err)
	require.Equal(t, before.ResourceVersion, v.RollbackTo)
	require.Contains(t, v.RollbackURL, "/versions/compare?from=")
	require.Len(t, v.NotRestored, 2)
	require.NotNil(t, v.Changes)
	require.True(t, v.Changes.BaseMoved)
	require.Equal(t, []string{"spec.data.tier1.replicas"}, []string{v.Changes.Cluster[0].Path})
	require.Len(t, v.Changes.Proposal, 1)
	require.Equal(t, "changed", v.Changes.Proposal[0].Kind)
	require.Equal(t, "4 → 2", v.Changes.Proposal[0].Old)
	require.Equal(t, "5 → 2", v.Changes.Proposal[0].New)
	require.NotNil(t, v.SinceYou, "ben approved revision 1")
	require.Len(t, v.Collisions, 1)
	require.Equal(t, other.ID, v.Collisions[0].ID)
	require.Equal(t, "/requests/"+strconv.FormatInt(other.ID, 10), v.Collisions[0].URL)
	require.False(t, v.Collisions[0].Earlier, "the update was filed later")

	fresh, err := requestHistoryView(ctx, f.pool, d, cat)
	require.NoError(t, err)
	require.Nil(t, fresh.SinceYou, "cat never decided")
}

func cloneSpecForTest(t *testing.T, s *cloudapi.ClusterSpec) *cloudapi.ClusterSpec {
	t.Helper()
	raw, err := json.Marshal(s)
	require.NoError(t, err)
	var out cloudapi.ClusterSpec
	require.NoError(t, json.Unmarshal(raw, &out))
	return &out
}
