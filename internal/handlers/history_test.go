package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
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

	// A version from before Clusterdesk followed the cluster is fetched
	// from the history for the form; an unknown one is not found.
	zero := b.get("/clusters/" + staging + "/versions/0/rollback")
	require.Equal(t, http.StatusOK, zero.status)
	require.Contains(t, zero.body, "spec.version")
	require.Equal(t, http.StatusNotFound, b.get("/clusters/"+staging+"/versions/99/rollback").status)
}
