package handlers

import (
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/worker"
)

// newGovernedFixture is newDecideFixture with the governance rules wired
// as `portal serve` wires them, and two teams: analytics owns the
// analytics-* clusters, clickstream the clickstream-* ones.
func newGovernedFixture(t *testing.T) *decideFixture {
	t.Helper()
	f := newDecideFixture(t)
	govern(t, f)
	return f
}

// govern wires f's approvals service with the governance rules and makes
// the two teams of newGovernedFixture.
func govern(t *testing.T, f *decideFixture) {
	t.Helper()
	enqueue, err := worker.Enqueuer(f.pool)
	require.NoError(t, err)
	f.service = approvals.New(f.pool, approvals.Config{OnApproved: enqueue, Permissions: governance.Checker{}})
	f.server.deps.Approvals = f.service
	admin := governance.NewAdmin(f.pool)
	root := approvals.Actor{UserID: 0, Name: "setup"}
	for _, team := range []string{"analytics", "clickstream"} {
		_, err := admin.TeamSave(t.Context(), root, governance.Team{Name: team, RequesterGroups: []string{team + "-devs"},
			ApproverGroups: []string{team + "-approvers"}, LeadGroups: []string{team + "-leads"}})
		require.NoError(t, err)
		_, err = admin.RuleAdd(t.Context(), root, governance.Rule{Source: governance.SourcePrefix, Key: team + "-", Team: team})
		require.NoError(t, err)
	}
}

// governedPeople are the test users with the groups the provider gives
// them here.
var governedPeople = []struct {
	name   string
	groups []string
}{
	{"alice", []string{"developers", "analytics-devs"}},
	{"bob", []string{"developers", "approvers", "clickstream-devs", "clickstream-leads"}},
	{"carol", []string{"developers", "approvers", "analytics-approvers", "analytics-leads"}},
	{"dave", []string{"developers", "admins", "approvers"}},
}

// TestGovernanceRouteWalk walks every requester route on a cluster in the
// route table as each test user against the clusters of two teams: the
// page's buttons, the forms and the (forged) POSTs all give the answer of
// the one permission function, and a refusal says what would grant it.
func TestGovernanceRouteWalk(t *testing.T) {
	t.Parallel()
	f := newGovernedFixture(t)
	ctx := t.Context()
	teams, err := governance.LoadTeams(ctx, f.pool)
	require.NoError(t, err)

	// The cluster routes of the requesters, from the route table.
	var routes []string
	for _, r := range f.server.echo.Routes() {
		if strings.HasPrefix(r.Path, "/clusters/:uid/") && kindOfPath(r.Path) != "" || r.Path == "/clusters/:uid/requests" || r.Path == "/clusters/:uid/requests/new" {
			routes = append(routes, r.Method+" "+r.Path)
		}
	}
	require.Subset(t, routes, []string{"GET /clusters/:uid/requests/new", "POST /clusters/:uid/requests", "GET /clusters/:uid/update",
		"POST /clusters/:uid/update", "POST /clusters/:uid/replace", "POST /clusters/:uid/versions/:rv/rollback"})

	refusals := 0
	for _, p := range governedPeople {
		b := f.signedInWith(p.name, p.groups...)
		person := governance.Person{Groups: p.groups, Admin: p.name == "dave"}
		for _, name := range []string{"analytics-staging", "analytics-prod", "clickstream-dev"} {
			cl, err := inventory.ClusterGet(ctx, f.pool, f.uid(name))
			require.NoError(t, err)
			owner, err := governance.OwnerOf(ctx, f.pool, cl)
			require.NoError(t, err)
			target := governance.Target{Cluster: cl.Name, Team: owner, Environment: cl.Environment}
			page := b.get(clusterURL(cl.UID))
			require.Equal(t, http.StatusOK, page.status)
			require.Contains(t, page.body, `data-testid="cluster-team">`, "the owning team is on the page")

			for _, route := range routes {
				method, path, _ := strings.Cut(route, " ")
				kinds := []approvals.Kind{kindOfPath(path)}
				if kinds[0] == "" {
					kinds = []approvals.Kind{approvals.KindStop, approvals.KindDelete, approvals.KindRestartServer}
				}
				for _, kind := range kinds {
					what := p.name + " " + route + " " + string(kind) + " on " + name
					want := teams.Allowed(person, target, governance.Act{Kind: kind})
					target := strings.NewReplacer(":uid", cl.UID, ":rv", strconv.FormatInt(cl.ResourceVersion, 10)).Replace(path)
					var resp response
					if method == http.MethodGet {
						resp = b.getOnce(target + "?kind=" + string(kind))
					} else {
						resp = b.postOnce(target, url.Values{"csrf_token": {b.csrfToken()}, "kind": {string(kind)},
							"reason": {"route walk"}, "confirm_name": {cl.Name}})
					}
					if want != nil {
						refusals++
						require.Equal(t, http.StatusForbidden, resp.status, what)
						require.Contains(t, html.UnescapeString(resp.body), approvals.RefusalReason(want), what)
					} else {
						require.NotEqual(t, http.StatusForbidden, resp.status, what)
					}
				}
			}
			// The delete button is there exactly when a delete may be filed.
			deleteWant := teams.Allowed(person, target, governance.Act{Kind: approvals.KindDelete})
			page = b.get(clusterURL(cl.UID))
			link := `/requests/new?kind=delete`
			require.Equal(t, deleteWant == nil, strings.Contains(page.body, link), "%s: delete button on %s", p.name, name)
		}
	}
	require.Positive(t, refusals)
}

// kindOfPath is the kind a requester's cluster route files, as the test
// reads the route table; "" for the simple requests (the form says).
func kindOfPath(path string) approvals.Kind {
	switch {
	case strings.HasPrefix(path, "/clusters/:uid/update"):
		return approvals.KindUpdate
	case strings.HasPrefix(path, "/clusters/:uid/replace"):
		return approvals.KindReplace
	case strings.HasPrefix(path, "/clusters/:uid/versions/:rv/rollback"):
		return approvals.KindRollback
	}
	return ""
}

// TestGovernanceApproveAndList: an approver of another team sees why they
// cannot approve and a forged approval is refused with the reason; the
// cluster list shows the owning team and "My clusters" is alice's default.
func TestGovernanceApproveAndList(t *testing.T) {
	t.Parallel()
	f := newGovernedFixture(t)
	alice := f.signedInWith("alice", "developers", "analytics-devs")
	resp := alice.postOnce("/clusters/"+f.uid("analytics-staging")+"/requests", url.Values{"csrf_token": {alice.csrfToken()},
		"kind": {"stop"}, "reason": {"quiet weekend"}})
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	path := resp.header.Get("Location")

	bob := f.signedInWith("bob", "developers", "approvers", "clickstream-devs", "clickstream-approvers")
	page := bob.get(path)
	require.Contains(t, html.UnescapeString(page.body), "You cannot approve this request: approving changes on the analytics team's clusters needs a member of analytics-approvers or analytics-leads.")
	require.NotContains(t, page.body, `data-testid="approve-form"`)
	forged := bob.postOnce(path+"/approve", url.Values{"csrf_token": {bob.csrfToken()}, "revision": {"1"}, "comment": {"sure"}})
	require.Equal(t, http.StatusForbidden, forged.status)
	require.Contains(t, html.UnescapeString(forged.body), "analytics-approvers or analytics-leads")

	carol := f.signedInWith("carol", "approvers", "analytics-approvers")
	carolPage := carol.get(path)
	require.NotContains(t, carolPage.body, "You cannot approve this request")
	require.Contains(t, carolPage.body, `data-testid="approve-form"`)

	// The list: alice's default is her team's clusters; all teams on ask.
	list := alice.get("/clusters")
	require.Contains(t, list.body, "analytics-staging")
	require.NotContains(t, list.body, "clickstream-dev")
	require.Contains(t, list.body, `<option value="mine" selected>My clusters</option>`)
	all := alice.get("/clusters?team=all")
	require.Contains(t, all.body, "clickstream-dev")
	require.Contains(t, all.body, `data-testid="cluster-team">clickstream`)
	only := alice.get("/clusters?team=clickstream")
	require.NotContains(t, only.body, "analytics-staging")
	require.Contains(t, only.body, "clickstream-dev")
}

// TestGovernanceRebaseRefused: once alice's cluster belongs to another
// team, a forged rebase of her request is refused with what would grant
// it, as filing would be.
func TestGovernanceRebaseRefused(t *testing.T) {
	t.Parallel()
	f := newGovernedFixture(t)
	alice := f.signedInWith("alice", "developers", "analytics-devs")
	resp := alice.postOnce("/clusters/"+f.uid("analytics-staging")+"/requests", url.Values{"csrf_token": {alice.csrfToken()},
		"kind": {"stop"}, "reason": {"quiet weekend"}})
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	path := resp.header.Get("Location")

	root := approvals.Actor{UserID: 0, Name: "setup"}
	require.NoError(t, governance.NewAdmin(f.pool).OwnerSet(t.Context(), root, f.uid("analytics-staging"), "clickstream"))
	forged := alice.postOnce(path+"/rebase", url.Values{"csrf_token": {alice.csrfToken()}})
	require.Equal(t, http.StatusForbidden, forged.status, forged.body)
	require.Contains(t, html.UnescapeString(forged.body), "clickstream-devs or clickstream-leads")
}
