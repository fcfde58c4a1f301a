package handlers

import (
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// planFixture files requests of any kind as alice, for bob to read.
type planFixture struct {
	*decideFixture
	alice approvals.Actor
	bob   *browser
}

func newPlanFixture(t *testing.T) *planFixture {
	t.Helper()
	f := &planFixture{decideFixture: newDecideFixture(t)}
	_, aliceID := f.signedIn("alice")
	f.alice = approvals.Actor{UserID: aliceID, Name: "Alice Anderson", Groups: []string{"developers"}, Origin: audit.Origin{IP: "192.0.2.1"}}
	f.bob, _ = f.signedIn("bob")
	return f
}

func (f *planFixture) cluster(name string) inventory.Cluster {
	f.t.Helper()
	list, err := inventory.ClusterByName(f.t.Context(), f.pool, name)
	require.NoError(f.t, err)
	require.Len(f.t, list, 1)
	return list[0]
}

// page files in and returns its request page as bob sees it, unescaped.
func (f *planFixture) page(in approvals.NewRequest) string {
	f.t.Helper()
	in.Reason = "plan test"
	r, err := f.service.Create(f.t.Context(), f.alice, in)
	require.NoError(f.t, err)
	page := f.bob.get(requestPath(r.ID))
	require.Equal(f.t, http.StatusOK, page.status, page.body)
	return html.UnescapeString(page.body)
}

// element returns the first element with data-testid id, up to its
// closing tag (elements of that tag do not nest in what is tested).
func element(t *testing.T, body, tag, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<` + tag + `[^>]*data-testid="` + id + `".*?</` + tag + `>`).FindString(body)
	require.NotEmpty(t, m, "no <%s data-testid=%q>", tag, id)
	return m
}

func TestRequestPagePlanAndLabelledDiffOfAnUpdate(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t)
	prod := f.cluster("analytics-prod")
	spec := prod.Spec
	query := *spec.Query
	query.Replicas = new(*query.Replicas + 1)
	spec.Query = &query
	spec.AWSTags = []cloudapi.NameValue{{Name: "team", Value: []byte(`"analytics"`)}, {Name: "env", Value: []byte(`"production"`)}, {Name: "cost", Value: []byte(`"c-42"`)}}
	spec.DruidExtensions = []string{"druid-datasketches", "druid-histogram"}
	body := f.page(approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: prod.UID, Spec: &spec, SeenResourceVersion: &prod.ResourceVersion})

	plan := element(t, body, "div", "plan-summary")
	// A new extension reaches every server: they restart one at a time.
	require.Contains(t, plan, "Rolling update · adds 1 query server · all 11 servers restart · no downtime")
	require.Contains(t, plan, "1 to add")
	require.Contains(t, plan, "3 to change")
	require.Contains(t, plan, "0 to remove")
	require.Less(t, strings.Index(body, `data-testid="plan-summary"`), strings.Index(body, `data-testid="request-diff"`), "the plan comes first")

	diff := element(t, body, "table", "request-diff")
	// Sections of the form, in its order, as group headers.
	groups := regexp.MustCompile(`<th scope="rowgroup"[^>]*>([^<]+)</th>`).FindAllStringSubmatch(diff, -1)
	var names []string
	for _, g := range groups {
		names = append(names, g[1])
	}
	require.Equal(t, []string{"AWS", "Query servers", "Extensions and feature flags"}, names)
	// The form's labels, the raw path on hover, the change in a word and
	// a sign.
	rows := regexp.MustCompile(`(?s)<tr data-testid="diff-row".*?</tr>`).FindAllString(diff, -1)
	require.Len(t, rows, 4)
	want := []struct{ label, path, change, before, after string }{
		{"AWS tags › team", `spec.awsTags["team"]`, "~ changed", "data-platform", "analytics"},
		{"AWS tags › cost", `spec.awsTags["cost"]`, "+ added", "not set", "c-42"},
		{"Query replicas", "spec.query.replicas", "~ changed", "2", "3"},
		{"Druid extensions", "spec.druidExtensions", "~ changed", "druid-kafka-indexing-service", "druid-histogram"},
	}
	for i, w := range want {
		require.Contains(t, rows[i], `title="`+w.path+`">`+w.label+`</span>`)
		require.Contains(t, rows[i], `data-change="`+strings.Fields(w.change)[1]+`"`)
		require.Regexp(t, regexp.QuoteMeta(strings.Fields(w.change)[0])+`\s*`+strings.Fields(w.change)[1], rows[i])
		require.Contains(t, rows[i], w.before)
		require.Contains(t, rows[i], w.after)
	}
	// A list shows its items, not JSON; what it gains and loses is marked
	// in words too.
	require.NotContains(t, rows[3], `["druid`)
	require.Contains(t, rows[3], `diff-item-removed`)
	require.Regexp(t, `removed:</span>\s*<code>druid-kafka-indexing-service</code>`, rows[3])
	require.Regexp(t, `added:</span>\s*<code>druid-histogram</code>`, rows[3])
	// The unchanged fields of changed sections, collapsed.
	context := regexp.MustCompile(`(?s)<tr class="diff-context".*?</tr>`).FindAllString(diff, -1)
	require.Len(t, context, 3, "one per changed section with unchanged fields")
	require.Contains(t, context[0], "<details>")
	require.Contains(t, context[0], "AWS tags › env")
	require.Contains(t, context[1], "Query instance type")
	require.Contains(t, context[1], "c5.2xlarge")
	require.NotContains(t, context[1], "Query replicas", "a changed field is no context")
	// Every raw path, in a toggle.
	paths := element(t, body, "details", "diff-paths")
	require.Contains(t, paths, "<code>spec.query.replicas</code>")
	require.Contains(t, paths, `<code>spec.awsTags["cost"]</code>`)
}

func TestRequestPagePlanOfACreateShowsTheProposedValuesAlone(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t)
	spec := f.cluster("analytics-staging").Spec
	body := f.page(approvals.NewRequest{Kind: approvals.KindCreate, Name: "plan-new", Spec: &spec})

	require.Contains(t, element(t, body, "div", "plan-summary"), "Creates cluster plan-new · 4 servers")
	diff := element(t, body, "table", "request-diff")
	require.NotContains(t, diff, "not set", "no empty side for a new cluster")
	require.NotContains(t, diff, `<th scope="col">Now</th>`)
	require.Equal(t, 2, strings.Count(diff, `<th scope="col">`), "one column of values beside the field")
	require.Contains(t, diff, `title="metadata.name">Cluster name</span>`)
	require.Contains(t, diff, `title="spec.master.replicas">Master replicas</span>`)
	require.Contains(t, diff, `<th scope="rowgroup" colspan="2">Master servers</th>`)
	require.NotContains(t, diff, `data-testid="diff-context"`, "a create shows everything already")
}

func TestRequestPagePlanNamesTheServerARestartRestarts(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t)
	prod := f.cluster("analytics-prod")
	var srv cloudapi.Server
	for _, s := range prod.Status.Servers {
		if s.NodeType == cloudapi.NodeQuery {
			srv = s
		}
	}
	require.NotEmpty(t, srv.InstanceID)
	body := f.page(approvals.NewRequest{Kind: approvals.KindRestartServer, ClusterUID: prod.UID, InstanceID: srv.InstanceID})

	require.Contains(t, element(t, body, "div", "plan-summary"),
		"Restarts server "+srv.InstanceID+" (query, "+srv.PrivateIP+") · others keep serving")
	row := element(t, body, "tr", "diff-row")
	require.Contains(t, row, "Server to restart")
	require.Regexp(t, `↻\s*restarts`, row)
	for _, want := range []string{"instance id: " + srv.InstanceID, "tier: query", "address: " + srv.PrivateIP} {
		require.Contains(t, row, want)
	}
}

func TestRequestPagePlanOfAStopAndADelete(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t)
	prod, dev := f.cluster("analytics-prod"), f.cluster("clickstream-dev")
	stop := f.page(approvals.NewRequest{Kind: approvals.KindStop, ClusterUID: prod.UID})
	require.Contains(t, element(t, stop, "div", "plan-summary"), "Stops the cluster · 11 servers shut down · downtime")
	require.Contains(t, element(t, stop, "tr", "diff-row"), `title="spec.desiredState">Desired state</span>`)

	del := f.page(approvals.NewRequest{Kind: approvals.KindDelete, ClusterUID: dev.UID})
	plan := element(t, del, "div", "plan-summary")
	require.Contains(t, plan, "Deletes the cluster")
	require.Contains(t, plan, "irreversible")
	require.Contains(t, plan, "No field of the specification changes.")
}

// The spec forms' live preview opens with the plan too, and a new
// cluster's preview shows its values alone.
func TestSpecPreviewShowsThePlan(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	uid := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)

	values := specValues(alice, cl.Spec, "", "")
	values.Set("seen_resource_version", strconv.FormatInt(cl.ResourceVersion, 10))
	values.Set("data_tier1_replicas", strconv.Itoa(int(*cl.Spec.Data.Tier1.Replicas)+2))
	resp := alice.postOnce("/clusters/"+uid+"/update/validate", values, "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	body := html.UnescapeString(resp.body)
	require.Contains(t, element(t, body, "div", "plan-summary"), "Rolling update · adds 2 data servers (tier 1) · no downtime")
	require.Contains(t, element(t, body, "table", "request-diff"), `title="spec.data.tier1.replicas">Data tier 1 replicas</span>`)

	create := specValues(alice, cl.Spec, "plan-preview", "")
	resp = alice.postOnce("/clusters/new/validate", create, "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	body = html.UnescapeString(resp.body)
	require.Contains(t, element(t, body, "div", "plan-summary"), "Creates cluster plan-preview · 4 servers")
	diff := element(t, body, "table", "request-diff")
	require.NotContains(t, diff, "not set")
	require.NotContains(t, diff, `<th scope="col">Now</th>`)
}

func TestDiffPlaces(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, group, label string }{
		{"metadata.name", "Cluster", "Cluster name"},
		{"spec.version", "Cluster", "Imply version"},
		{"spec.query.replicas", "Query servers", "Query replicas"},
		{"spec.data.tier2.instanceType", "Data tier 2", "Data tier 2 instance type"},
		{`spec.awsTags["team"]`, "AWS", "AWS tags › team"},
		{`spec.master.coordinatorRuntimeProperties["druid.x.y"]`, "Master servers", "Coordinator runtime properties › druid.x.y"},
		{`spec.customFiles["s3://b/f.sh"].executable`, "Custom files", "Custom files › s3://b/f.sh › executable"},
		{"spec.pivot.somethingNew", "Pivot access", "Pivot access › somethingNew"},
		{"spec.things[2].x", "Other settings", "things › item 3 › x"},
		{`spec["odd.member"]`, "Other settings", "odd.member"},
	} {
		pl := diffPlaceOf(tc.path)
		require.Equal(t, [2]string{tc.group, tc.label}, [2]string{pl.group, pl.label}, tc.path)
	}
}

func TestDiffValues(t *testing.T) {
	t.Parallel()
	items := func(texts ...string) templates.DiffValue {
		v := templates.DiffValue{}
		for _, s := range texts {
			v.Items = append(v.Items, templates.DiffItem{Text: s})
		}
		return v
	}
	for _, tc := range []struct {
		raw  string
		want templates.DiffValue
	}{
		{"", templates.DiffValue{Unset: true}},
		{`"s3://b/p"`, templates.DiffValue{Text: "s3://b/p"}},
		{`3`, templates.DiffValue{Text: "3"}},
		{`true`, templates.DiffValue{Text: "yes"}},
		{`[]`, templates.DiffValue{Text: "none (an empty list)"}},
		{`["a","b"]`, items("a", "b")},
		{`[{"name":"team","value":"x"},{"name":"n","value":{"k":1}}]`, items("team = x", `n = {"k":1}`)},
		{`{"type":"S3","path":"s3://b/f","executable":false}`, items("path: s3://b/f", "executable: no", "type: S3")},
	} {
		var raw json.RawMessage
		if tc.raw != "" {
			raw = json.RawMessage(tc.raw)
		}
		require.Equal(t, tc.want, diffValue(raw), tc.raw)
	}
}
