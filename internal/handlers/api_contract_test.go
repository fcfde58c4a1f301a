package handlers

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/api"
	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// TestAPIContract calls every operation of api/openapi.json against the
// running server, each request and answer validated against the document,
// and fails if one was not exercised.
func TestAPIContract(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, apiEnvOptions{})
	alice, _ := env.token("alice")
	carol, _ := env.token("carol")
	bob, _ := env.token("bob")
	erin, _ := env.token("erin")
	staging, dev := env.uid("analytics-staging"), env.uid("clickstream-dev")

	doc := env.call("", http.MethodGet, "/openapi.json", nil)
	require.Equal(t, http.StatusOK, doc.status)
	require.Contains(t, string(doc.body), `"openapi": "3.1.0"`)

	// Clusters: a keyset page of one, then the next.
	var page api.ClusterPage
	first := env.call(alice, http.MethodGet, "/clusters?limit=1", nil)
	require.Equal(t, http.StatusOK, first.status, string(first.body))
	first.decode(t, &page)
	require.Len(t, page.Items, 1)
	require.NotEmpty(t, page.Next)
	seen := page.Items[0].Name
	env.call(alice, http.MethodGet, "/clusters?limit=1&after="+page.Next, nil).decode(t, &page)
	require.Len(t, page.Items, 1)
	require.Greater(t, page.Items[0].Name, seen, "the next page follows by name")
	env.call(alice, http.MethodGet, "/clusters?name=staging", nil).decode(t, &page)
	require.Equal(t, []string{"analytics-staging"}, clusterSummaryNames(page.Items))

	var cluster api.ClusterDetail
	got := env.call(alice, http.MethodGet, "/clusters/"+staging, nil)
	require.Equal(t, http.StatusOK, got.status, string(got.body))
	got.decode(t, &cluster)
	require.Equal(t, "analytics-staging", cluster.Name)
	require.NotEmpty(t, cluster.Servers)
	require.NotEmpty(t, cluster.Versions)

	// Filing: a preview, then the request.
	change := map[string]any{"kind": "update", "cluster_uid": staging, "reason": "More data",
		"patch": map[string]any{"data": map[string]any{"tier1": map[string]any{"replicas": 3}}}}
	var preview api.Preview
	dry := env.call(alice, http.MethodPost, "/requests", withMember(change, "dry_run", true))
	require.Equal(t, http.StatusOK, dry.status, string(dry.body))
	dry.decode(t, &preview)
	require.Equal(t, "api", preview.Checked, "Cloud Manager's dry run was asked")
	require.Equal(t, []string{"spec.data.tier1.replicas"}, changePaths(preview.Diff))
	require.NotEmpty(t, preview.Plan.Headline)
	require.Zero(t, env.count("SELECT count(*) FROM change_requests"), "a dry run files nothing")

	filed := env.call(alice, http.MethodPost, "/requests", change)
	require.Equal(t, http.StatusCreated, filed.status, string(filed.body))
	var r api.Request
	filed.decode(t, &r)
	require.Equal(t, preview.DiffHash, r.DiffHash, "the preview is what was filed")
	require.Equal(t, "/api/v1/requests/"+strconv.FormatInt(r.ID, 10), filed.header.Get("Location"))
	etag := filed.header.Get("ETag")
	require.NotEmpty(t, etag)
	require.Equal(t, 1, r.QueuePosition)

	got = env.call(alice, http.MethodGet, "/requests/"+strconv.FormatInt(r.ID, 10), nil)
	require.Equal(t, http.StatusOK, got.status)
	require.Equal(t, etag, got.header.Get("ETag"))
	var list api.RequestPage
	env.call(alice, http.MethodGet, "/requests?mine=true&state=pending&limit=10", nil).decode(t, &list)
	require.Len(t, list.Items, 1)

	// Edit with If-Match; the old ETag then answers 412.
	edit := map[string]any{"reason": "More data, and say why"}
	edited := env.call(alice, http.MethodPatch, "/requests/"+strconv.FormatInt(r.ID, 10), edit, "If-Match", etag)
	require.Equal(t, http.StatusOK, edited.status, string(edited.body))
	require.NotEqual(t, etag, edited.header.Get("ETag"))
	stale := env.call(alice, http.MethodPatch, "/requests/"+strconv.FormatInt(r.ID, 10), edit, "If-Match", etag)
	require.Equal(t, http.StatusPreconditionFailed, stale.status)
	require.Equal(t, "stale-revision", stale.problem(t).Code)

	rebased := env.call(alice, http.MethodPost, "/requests/"+strconv.FormatInt(r.ID, 10)+"/rebase", nil)
	require.Equal(t, http.StatusOK, rebased.status, string(rebased.body))
	rebased.decode(t, &r)
	require.Equal(t, 3, r.Revision)

	approved := env.call(carol, http.MethodPost, "/requests/"+strconv.FormatInt(r.ID, 10)+"/approve", map[string]any{"revision": r.Revision})
	require.Equal(t, http.StatusOK, approved.status, string(approved.body))
	approved.decode(t, &r)
	require.Equal(t, string(approvals.StateApproved), r.State)
	require.Len(t, r.Approvals, 1)
	require.Equal(t, "Carol Clark", r.Approvals[0].Approver.Name)

	// Another request to reject, a third to cancel.
	stop := map[string]any{"kind": "start", "cluster_uid": dev, "reason": "Needed again"}
	filed = env.call(alice, http.MethodPost, "/requests", stop)
	require.Equal(t, http.StatusCreated, filed.status, string(filed.body))
	filed.decode(t, &r)
	rejected := env.call(bob, http.MethodPost, "/requests/"+strconv.FormatInt(r.ID, 10)+"/reject",
		map[string]any{"comment": "It is used on Mondays"}, "If-Match", filed.header.Get("ETag"))
	require.Equal(t, http.StatusOK, rejected.status, string(rejected.body))
	rejected.decode(t, &r)
	require.Equal(t, string(approvals.StateRejected), r.State)

	filed = env.call(alice, http.MethodPost, "/requests", stop)
	require.Equal(t, http.StatusCreated, filed.status, string(filed.body))
	filed.decode(t, &r)
	cancelled := env.call(alice, http.MethodPost, "/requests/"+strconv.FormatInt(r.ID, 10)+"/cancel", map[string]any{})
	require.Equal(t, http.StatusOK, cancelled.status, string(cancelled.body))
	cancelled.decode(t, &r)
	require.Equal(t, string(approvals.StateCancelled), r.State)

	// The audit log: the calls are there with the token's name.
	var events api.AuditPage
	listed := env.call(erin, http.MethodGet, "/audit?action=request.created&limit=5", nil)
	require.Equal(t, http.StatusOK, listed.status, string(listed.body))
	listed.decode(t, &events)
	require.NotEmpty(t, events.Items)
	require.Equal(t, `Alice Anderson (token "alice-ci")`, events.Items[0].Actor.Name)
	export := env.call(erin, http.MethodGet, "/audit/export?format=jsonl&action=request.created", nil)
	require.Equal(t, http.StatusOK, export.status, string(export.body))
	require.Equal(t, 3, strings.Count(string(export.body), "\n"), string(export.body))
	check, err := audit.VerifyExport(strings.NewReader(string(export.body)))
	require.NoError(t, err)
	require.True(t, check.OK, check.String())
	var verified audit.Result
	verify := env.call(erin, http.MethodPost, "/audit/verify", nil)
	require.Equal(t, http.StatusOK, verify.status, string(verify.body))
	verify.decode(t, &verified)
	require.True(t, verified.OK)

	require.Empty(t, env.validator.missed(), "operations of api/openapi.json no test called")
}

func withMember(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for key, val := range m {
		out[key] = val
	}
	return out
}

func clusterSummaryNames(items []api.ClusterSummary) []string {
	var out []string
	for _, c := range items {
		out = append(out, c.Name)
	}
	return out
}

func changePaths(d []approvals.Change) []string {
	var out []string
	for _, c := range d {
		out = append(out, c.Path)
	}
	return out
}

// TestAPIRoutesMatchTheDocument walks the echo route table: every /api/v1
// route is in api/openapi.json and every operation there is a route.
func TestAPIRoutesMatchTheDocument(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, apiEnvOptions{})
	param := regexp.MustCompile(`:([^/]+)`)
	var routes []string
	for _, r := range env.server.echo.Routes() {
		if !strings.HasPrefix(r.Path, APIPrefix+"/") || r.Method == echo.RouteNotFound || strings.HasSuffix(r.Path, "*") {
			continue
		}
		routes = append(routes, r.Method+" "+param.ReplaceAllString(strings.TrimPrefix(r.Path, APIPrefix), "{$1}"))
	}
	var documented []string
	doc := loadAPIDocument(t, "/api/v1")
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	require.NotEmpty(t, routes)
	require.Equal(t, documented, routes, "api/openapi.json and the routes under /api/v1 disagree")
}
