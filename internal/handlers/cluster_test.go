package handlers

import (
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// clusterFixture is the portal with its inventory filled by a real sync of
// the simulator's demo clusters (analytics-prod, analytics-staging,
// clickstream-dev), and the simulator's call log to count API calls.
type clusterFixture struct {
	*signinEnv
	sim    *sim.Server
	client *cloudapi.Client
	syncer *inventory.Syncer
}

func newClusterFixture(t *testing.T) *clusterFixture {
	t.Helper()
	s, client := simtest.Start(t, 5*time.Millisecond)
	rules, err := inventory.ParseNameRules("-dev$=development")
	require.NoError(t, err)
	f := &clusterFixture{signinEnv: newSigninEnv(t, signinOptions{}), sim: s, client: client}
	f.syncer = inventory.NewSyncer(f.pool, client, inventory.Config{Rules: inventory.Rules{Environments: rules}})
	f.sync()
	return f
}

func (f *clusterFixture) sync() {
	f.t.Helper()
	_, err := f.syncer.Sync(f.t.Context())
	require.NoError(f.t, err)
}

// uid returns the uid of the cluster named name.
func (f *clusterFixture) uid(name string) string {
	f.t.Helper()
	list, err := inventory.ClusterByName(f.t.Context(), f.pool, name)
	require.NoError(f.t, err)
	require.Len(f.t, list, 1)
	return list[0].UID
}

// fileStop files a stop request on uid as a new person.
func (f *clusterFixture) fileStop(uid, reason string) approvals.Request {
	f.t.Helper()
	ctx := f.t.Context()
	var id int64
	require.NoError(f.t, f.pool.QueryRow(ctx, `
		INSERT INTO users (issuer, subject, username, name, groups, last_login_at)
		VALUES ('https://idp.test', 'sub-fran', 'fran', 'Fran Example', '{developers}', now()) RETURNING id`).Scan(&id))
	actor := approvals.Actor{UserID: id, Name: "Fran Example", Groups: []string{"developers"}, Origin: audit.Origin{IP: "192.0.2.1"}}
	r, err := approvals.New(f.pool, approvals.Config{}).Create(ctx, actor, approvals.NewRequest{
		Kind: approvals.KindStop, ClusterUID: uid, Reason: reason})
	require.NoError(f.t, err)
	return r
}

var clusterRowRE = regexp.MustCompile(`<tr data-testid="cluster-row" data-uid="([^"]+)"><th scope="row"><a href="([^"]+)" data-testid="cluster-link">([^<]*)</a>`)

// clusterNames lists the clusters a list page shows, in order.
func clusterNames(body string) []string {
	var names []string
	for _, m := range clusterRowRE.FindAllStringSubmatch(body, -1) {
		names = append(names, m[3])
	}
	return names
}

func TestClusterListShowsTheInventory(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	f.fileStop(f.uid("analytics-staging"), "saving money over the weekend")
	b := f.browser()
	b.signIn("alice", "/")

	r := b.get("/clusters")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "<title>Clusters · Clusterdesk</title>")
	require.Contains(t, r.body, `data-testid="nav-clusters" aria-current="page"`)
	require.Contains(t, r.header.Values("Vary"), "HX-Request")
	require.Equal(t, []string{"analytics-prod", "analytics-staging", "clickstream-dev"}, clusterNames(r.body))
	require.Contains(t, r.body, "3 clusters.")

	for _, m := range clusterRowRE.FindAllStringSubmatch(r.body, -1) {
		require.Equal(t, "/clusters/"+m[1], m[2], "a stable link to the cluster's page")
	}
	rows := strings.Split(r.body, `data-testid="cluster-row"`)[1:]
	require.Len(t, rows, 3)
	// The state is in words, the environment comes from the tag or the
	// name rule, the pending count from the change requests.
	require.Contains(t, rows[0], `<span class="state-badge state-ok" title="Cloud Manager reports the cluster running." data-testid="cluster-state">Started</span>`)
	require.Contains(t, rows[0], `data-testid="cluster-environment">production<`)
	require.Contains(t, rows[0], `data-testid="cluster-pending">0<`)
	require.Contains(t, rows[1], `data-testid="cluster-environment">staging<`)
	require.Contains(t, rows[1], `data-testid="cluster-pending">1<`)
	require.Contains(t, rows[1], ">2024.01<", "the Imply version")
	require.Contains(t, rows[2], `data-testid="cluster-state">Stopped</span>`)
	require.Contains(t, rows[2], `data-testid="cluster-environment">development<`)
	require.Regexp(t, `<time datetime="[0-9T:-]+Z" data-relative>`, rows[0], "last synced, for the reader's time zone")

	servers := regexp.MustCompile(`data-testid="cluster-servers">([0-9]+)<`).FindStringSubmatch(rows[0])
	prod, err := inventory.ClusterGet(t.Context(), f.pool, f.uid("analytics-prod"))
	require.NoError(t, err)
	require.NotEmpty(t, prod.Status.Servers)
	require.Equal(t, len(prod.Status.Servers), atoi(t, servers[1]))

	anonymous := f.browser().getOnce("/clusters")
	require.Equal(t, http.StatusSeeOther, anonymous.status)
	require.Contains(t, anonymous.header.Get("Location"), "/auth/login")
}

func TestClusterListFiltersAndSorts(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	b := f.browser()
	b.signIn("alice", "/")

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"state=STOPPED", []string{"clickstream-dev"}},
		{"state=started", []string{"analytics-prod", "analytics-staging"}},
		{"environment=production", []string{"analytics-prod"}},
		{"environment=development", []string{"clickstream-dev"}},
		{"name=ANALYTICS", []string{"analytics-prod", "analytics-staging"}},
		{"name=analytics&environment=staging", []string{"analytics-staging"}},
		{"name=%25", nil}, // a LIKE wildcard is a plain character
		{"sort=name&dir=desc", []string{"clickstream-dev", "analytics-staging", "analytics-prod"}},
		{"sort=environment", []string{"clickstream-dev", "analytics-prod", "analytics-staging"}},
		{"sort=state&dir=desc", []string{"clickstream-dev", "analytics-staging", "analytics-prod"}}, // ties by name, same order
	} {
		t.Run(tc.query, func(t *testing.T) {
			r := b.get("/clusters?" + tc.query)
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, tc.want, clusterNames(r.body))
		})
	}

	// The form shows the filter it applied.
	r := b.get("/clusters?environment=production&sort=servers&dir=desc")
	require.Contains(t, r.body, `<option value="production" selected>production</option>`)
	require.Contains(t, r.body, `<option value="servers" selected>server count</option>`)
	require.Contains(t, r.body, `<option value="desc" selected>descending</option>`)

	// The table's headings sort too, keeping the filter; the sorted
	// column says so to screen readers.
	sorted := b.get("/clusters?name=analytics")
	sortLinks := regexp.MustCompile(`<th scope="col"( aria-sort="[a-z]+")?><a href="([^"]+)"`).FindAllStringSubmatch(sorted.body, -1)
	require.Len(t, sortLinks, 6, "every column but the request count")
	require.Equal(t, ` aria-sort="ascending"`, sortLinks[0][1])
	require.Equal(t, "/clusters?dir=desc&amp;name=analytics", sortLinks[0][2], "the sorted column turns the order round")
	require.Equal(t, "/clusters?name=analytics&amp;sort=servers", sortLinks[4][2])
	desc := b.get(html.UnescapeString(sortLinks[0][2]))
	require.Equal(t, []string{"analytics-staging", "analytics-prod"}, clusterNames(desc.body))
	require.Contains(t, desc.body, `<th scope="col" aria-sort="descending">`)

	none := b.get("/clusters?name=nothing-like-this")
	require.Contains(t, none.body, `data-testid="cluster-empty">No cluster matches this filter. Widen it, or clear it to see every cluster.<`)

	// Mistakes are said on the form, not applied silently.
	bad := b.get("/clusters?sort=uid%3Bdrop&state=FROZEN&dir=up")
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, bad.body, `data-testid="sort-error"`)
	require.Contains(t, bad.body, `data-testid="state-error"`)
	require.Contains(t, bad.body, `data-testid="dir-error"`)
	require.Empty(t, clusterNames(bad.body))
}

func TestClusterListWithHTMX(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	b := f.browser()
	b.signIn("alice", "/")

	// A form submission sends every field, empty or not.
	frag := b.get("/clusters?name=analytics&state=&environment=&sort=name&dir=desc", "HX-Request", "true")
	require.Equal(t, http.StatusOK, frag.status)
	require.True(t, strings.HasPrefix(strings.TrimSpace(frag.body), `<section id="cluster-results"`), "a fragment, not a page")
	require.NotContains(t, frag.body, "<html")
	require.NotContains(t, frag.body, `data-testid="cluster-filter"`)
	require.Contains(t, frag.header.Values("Vary"), "HX-Request")
	require.Equal(t, "/clusters?dir=desc&name=analytics", frag.header.Get("HX-Push-Url"), "the canonical URL")
	require.Equal(t, []string{"analytics-staging", "analytics-prod"}, clusterNames(frag.body))

	// The pushed URL gives the same list as a whole page.
	page := b.get(frag.header.Get("HX-Push-Url"))
	require.Contains(t, page.body, "<html")
	require.Equal(t, clusterNames(frag.body), clusterNames(page.body))

	// Back button with htmx's history cache off: a whole page.
	restore := b.get("/clusters?name=analytics", "HX-Request", "true", "HX-History-Restore-Request", "true")
	require.Contains(t, restore.body, "<html")

	bad := b.get("/clusters?sort=bogus", "HX-Request", "true")
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Empty(t, bad.header.Get("HX-Push-Url"))
	require.Contains(t, bad.body, `data-testid="cluster-filter-errors"`)
}

func TestClusterPageShowsSpecStatusServersAndRequests(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	uid := f.uid("analytics-prod")
	stop := f.fileStop(uid, "the quarter is over")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)
	b := f.browser()
	b.signIn("alice", "/")

	r := b.get("/clusters/" + uid)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "<title>Cluster analytics-prod · Clusterdesk</title>")
	require.Contains(t, r.body, `<h1 data-testid="cluster-name">analytics-prod</h1>`)
	require.Contains(t, r.body, `data-testid="cluster-state">Started</span>`)
	require.Contains(t, r.body, `data-testid="cluster-team">data-platform<`)
	require.Contains(t, r.body, `data-testid="spec-version">2024.01<`)
	require.Contains(t, r.body, `data-testid="spec-encrypt-volumes">yes<`)
	require.Contains(t, r.body, "s3://acme-druid-prod/segments")
	tiers := regexp.MustCompile(`<tr data-testid="spec-tier"><th scope="row">([^<]+)</th><td data-testid="spec-replicas">([^<]+)</td><td>([^<]+)</td>`).FindAllStringSubmatch(r.body, -1)
	require.Len(t, tiers, 4)
	require.Equal(t, []string{"Master", "3", "m5.large"}, tiers[0][1:])
	require.Equal(t, []string{"Data tier 1", "4", "i3.2xlarge"}, tiers[2][1:], "the demo's later change")
	require.Equal(t, []string{"Data tier 2", "2", "d3.xlarge"}, tiers[3][1:])

	// Every server with its node type and instance id.
	require.Equal(t, len(cl.Status.Servers), strings.Count(r.body, `data-testid="server-row"`))
	for _, s := range cl.Status.Servers {
		require.Contains(t, r.body, `<code data-testid="server-instance-id">`+s.InstanceID+`</code>`)
	}
	require.Contains(t, r.body, "<td>"+string(cl.Status.Servers[0].NodeType)+"</td>")

	require.Equal(t, 1, strings.Count(r.body, `data-testid="version-row"`))
	require.Equal(t, 1, strings.Count(r.body, `data-testid="request-row"`))
	require.Contains(t, r.body, "the quarter is over")
	require.NotEmpty(t, cl.Status.Events)
	require.Equal(t, min(len(cl.Status.Events), clusterEventsShown), strings.Count(r.body, `data-testid="event-row"`))
	newest := cl.Status.Events[len(cl.Status.Events)-1]
	eventTimes := regexp.MustCompile(`data-testid="event-row"><time datetime="([^"]+)"`).FindAllStringSubmatch(r.body, -1)
	require.Equal(t, newest.Timestamp.UTC().Format(time.RFC3339), eventTimes[0][1], "newest event first")

	// Nothing to click that does not exist yet: no request forms. The
	// request links to its page, with its state in words, and the list of
	// all the cluster's requests is one click away.
	require.NotContains(t, r.body, "<button type=\"submit\">Request")
	require.Contains(t, r.body, `<a href="/requests/`+strconv.FormatInt(stop.ID, 10)+`" data-testid="cluster-request-link">`)
	require.Contains(t, r.body, `data-testid="request-state" data-state="pending">Waiting for approval</span>`)
	require.Contains(t, r.body, `href="/requests?cluster=analytics-prod" data-testid="cluster-all-requests"`)

	// A stopped cluster has no servers and says so.
	dev := b.get("/clusters/" + f.uid("clickstream-dev"))
	require.Equal(t, http.StatusOK, dev.status)
	require.Contains(t, dev.body, "No servers are running.")
	require.Contains(t, dev.body, `data-testid="cluster-requests-empty"`)
}

func TestClusterPageOfAnUnknownCluster(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	b := f.browser()
	b.signIn("alice", "/")

	r := b.get("/clusters/no-such-cluster")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Contains(t, r.body, `data-testid="error-page"`)
	require.Contains(t, r.body, "There is no cluster with this id.")

	frag := b.get("/clusters/no-such-cluster", "HX-Request", "true")
	require.Equal(t, http.StatusNotFound, frag.status)
	require.Equal(t, "#flash", frag.header.Get("HX-Retarget"))
}

func TestClusterPagesRenderNamesAndTagsInert(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	base, err := inventory.ClusterGet(t.Context(), f.pool, f.uid("clickstream-dev"))
	require.NoError(t, err)
	const name = `<script>alert("name")</script>`
	spec := base.Spec
	spec.DesiredState = cloudapi.DesiredStarted // so that a stop request changes something
	spec.AWSTags = []cloudapi.NameValue{
		cloudapi.StringValue("env", `"><img src=x onerror=alert(1)>`),
		cloudapi.StringValue("team", `<b onmouseover=alert(2)>team</b>`),
	}
	spec.DeepStorage = &cloudapi.DeepStorage{Path: `s3://bucket/<svg onload=alert(3)>`}
	created, err := f.client.CreateCluster(t.Context(), &cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: name}, Spec: spec})
	require.NoError(t, err)
	f.sync()
	f.fileStop(created.Metadata.UID, `<iframe src="javascript:alert(4)">`)
	b := f.browser()
	b.signIn("alice", "/")

	list := b.get("/clusters?sort=name")
	show := b.get("/clusters/" + created.Metadata.UID)
	require.Equal(t, http.StatusOK, list.status)
	require.Equal(t, http.StatusOK, show.status)
	for _, body := range []string{list.body, show.body} {
		require.Contains(t, body, `&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;`)
		for _, raw := range []string{`<script>alert`, `<img src=x`, `<b onmouseover`, `<svg onload`, `<iframe`} {
			require.NotContains(t, body, raw)
		}
	}
	require.Contains(t, show.body, "<title>Cluster &lt;script&gt;")
}

func TestClusterPagesMakeNoCloudAPICalls(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	before := len(f.sim.Calls())
	require.NotZero(t, before, "the sync did call the API")
	prod := f.uid("analytics-prod")
	for _, user := range []string{"alice", "bob", "dave"} {
		b := f.browser()
		b.signIn(user, "/")
		for range 5 {
			for _, path := range []string{"/clusters", "/clusters?state=STARTED&sort=servers", "/clusters/" + prod, "/clusters/unknown"} {
				b.get(path)
				b.get(path, "HX-Request", "true")
			}
		}
	}
	require.Len(t, f.sim.Calls(), before, "viewing pages must not call Cloud Manager")
}

func TestClusterListEmptyInventory(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()
	b.signIn("alice", "/")
	r := b.get("/clusters")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `data-testid="cluster-empty">The inventory is empty.`)
	require.NotContains(t, r.body, `data-testid="cluster-table"`)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		require.True(t, c >= '0' && c <= '9', s)
		n = n*10 + int(c-'0')
	}
	return n
}

func TestClusterPageOfADeletedCluster(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	uid := f.uid("clickstream-dev")
	require.NoError(t, f.client.DeleteCluster(t.Context(), uid))
	require.Eventually(t, func() bool {
		f.sync()
		cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
		require.NoError(t, err)
		return cl.Deleted()
	}, 10*time.Second, 20*time.Millisecond)
	b := f.browser()
	b.signIn("alice", "/")

	r := b.get("/clusters/" + uid)
	require.Equal(t, http.StatusOK, r.status, "a deleted cluster's page stays, for links in requests and chats")
	require.Contains(t, r.body, `data-testid="cluster-deleted"`)
	require.Contains(t, r.body, `data-testid="cluster-state">Deleted</span>`)
	require.Equal(t, []string{"analytics-prod", "analytics-staging"}, clusterNames(b.get("/clusters").body), "the list leaves it out")
}

func TestClusterListPages(t *testing.T) {
	t.Parallel()
	states := newClusterStates(cloudapi.Behaviour{})
	list := make([]inventory.Summary, clusterPageSize+1)
	for i := range list {
		list[i] = inventory.Summary{UID: "cl-" + strconv.Itoa(i), Name: "c" + strconv.Itoa(i)}
	}
	first := parseClusterQuery(map[string][]string{"environment": {"production"}}, []string{"production"}, states)
	r := clusterResults(first, list, map[string]int{"cl-3": 2}, states)
	require.Len(t, r.Rows, clusterPageSize, "the extra cluster only tells that another page follows")
	require.Equal(t, "/clusters?after=cl-49&environment=production", r.NextURL, "keyset: after the last row, same filter")
	require.Empty(t, r.PrevURL, "the first page has no previous page")
	require.Equal(t, 2, r.Rows[3].Pending)
	require.Equal(t, "50 matching clusters on this page.", r.Summary)

	// The next page, read forwards from its cursor: the last one.
	q := parseClusterQuery(map[string][]string{"environment": {"production"}, "after": {"cl-49"}}, []string{"production"}, states)
	last := clusterResults(q, list[:3], nil, states)
	require.Empty(t, last.NextURL)
	require.Equal(t, "/clusters?before=cl-0&environment=production", last.PrevURL)
	require.Equal(t, "3 matching clusters on this page.", last.Summary)

	// A previous page is read backwards (the handler turns it round): one
	// row more than a page means another page before it.
	back := parseClusterQuery(map[string][]string{"before": {"cl-60"}, "sort": {"servers"}, "dir": {"desc"}}, nil, states)
	r = clusterResults(back, list, nil, states)
	require.Len(t, r.Rows, clusterPageSize)
	require.Equal(t, "cl-1", r.Rows[0].UID, "the row beyond the page's far end is dropped")
	require.Equal(t, "/clusters?before=cl-1&dir=desc&sort=servers", r.PrevURL, "order and direction kept")
	require.Equal(t, "/clusters?after=cl-50&dir=desc&sort=servers", r.NextURL)

	gone := clusterResults(q, nil, nil, states)
	require.Equal(t, "The list is shorter now. Go back to the first page.", gone.Empty)
	require.Equal(t, "/clusters?environment=production", gone.PrevURL)

	for _, bad := range []map[string][]string{{"after": {"a"}, "before": {"b"}}, {"after": {strings.Repeat("x", 201)}}} {
		q := parseClusterQuery(bad, nil, states)
		require.Contains(t, q.form.Errors, "page", bad)
	}
}

// The state names come from the configuration: a tenant whose running
// state is ACTIVE shows it as running and offers it in the filter.
func TestClusterStatesFollowTheConfiguration(t *testing.T) {
	t.Parallel()
	states := newClusterStates(cloudapi.Behaviour{RunningStates: []cloudapi.ClusterState{"ACTIVE"}})
	require.Equal(t, "state-ok", states.badge("ACTIVE", false, "").Class)
	require.Equal(t, "state-other", states.badge(cloudapi.StateStarted, false, "").Class, "STARTED is not a running state here")
	require.Equal(t, "state-busy", states.badge(cloudapi.StateUpdating, false, "").Class)
	require.Equal(t, []cloudapi.ClusterState{"ACTIVE", "PENDING", "UPDATING", "STOPPED"}, states.offered())
	q := parseClusterQuery(map[string][]string{"state": {"active"}}, nil, states)
	require.Empty(t, q.form.Errors)
	require.Equal(t, cloudapi.ClusterState("ACTIVE"), q.filter.State)
	q = parseClusterQuery(map[string][]string{"state": {"started"}}, nil, states)
	require.Contains(t, q.form.Errors["state"], `There is no state "started"`)
	unreadable := states.badge("ACTIVE", false, "spec: master: replicas: not a number")
	require.Equal(t, "spec: master: replicas: not a number", unreadable.Unreadable)
}
