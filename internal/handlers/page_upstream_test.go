package handlers

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// newUpstreamFixture is the decide fixture with Cloud Manager wired for
// dry runs too, as `portal serve` wires it, and one stop request filed by
// alice on analytics-staging whose dry run the worker has run.
func newUpstreamFixture(t *testing.T) (*decideFixture, approvals.Request) {
	t.Helper()
	f := newDecideFixture(t)
	f.server.deps.Cloud = f.client
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-staging", "Weekend")
	runDryRuns(t, f.pool, f.client) // the worker's job
	return f, r
}

// Every main page, the request page for its requester and for an
// approver included, is drawn from PostgreSQL: a view calls Cloud Manager
// zero times.
func TestPageViewsMakeNoCloudManagerCall(t *testing.T) {
	f, r := newUpstreamFixture(t)
	alice, _ := f.signedIn("alice")
	bob, _ := f.signedIn("bob")
	erin, _ := f.signedIn("erin")
	staging := f.uid("analytics-staging")
	for _, p := range []struct {
		name, path string
		who        *browser
		want       string
	}{
		{"home", "/", alice, `data-testid="home-recent"`},
		{"clusters", "/clusters", alice, "analytics-staging"},
		{"cluster", "/clusters/" + staging, alice, "analytics-staging"},
		{"approvals", "/approvals", bob, requestPath(r.ID)},
		{"requests", "/requests", alice, requestPath(r.ID)},
		{"audit", "/audit", erin, "Alice Anderson filed the request."},
		{"request as requester", requestPath(r.ID), alice, "four eyes"},
		{"request as approver", requestPath(r.ID), bob, "Cloud Manager's dry run accepts this change."},
	} {
		f.sim.ResetCalls()
		page := p.who.get(p.path)
		require.Equal(t, http.StatusOK, page.status, p.name)
		require.Contains(t, html.UnescapeString(page.body), p.want, p.name)
		require.Empty(t, f.sim.Calls(), "%s: a page view calls Cloud Manager", p.name)
	}

	// The approver reads how fresh the stored copies are.
	page := bob.get(requestPath(r.ID))
	freshness := regexp.MustCompile(`(?s)<p data-testid="request-freshness">(.*?)</p>`).FindStringSubmatch(page.body)
	require.NotNil(t, freshness, page.body)
	text := strings.Join(strings.Fields(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(freshness[1], " ")), " ")
	require.Regexp(t, `^Cluster last synced from Cloud Manager \S+ \S+ UTC \. Dry run checked \S+ \S+ UTC against version 1\.$`, text)
}

// The approver's request page sends the same statements whether the
// database holds a little or ten times as much: more requests (on its
// cluster and others), audit events and cluster versions.
func TestApproverRequestPageStatementsDoNotGrowWithData(t *testing.T) {
	f, r := newUpstreamFixture(t)
	queries := &queryCounter{}
	config := f.pool.Config()
	config.ConnConfig.Tracer = queries
	pages, err := pgxpool.NewWithConfig(t.Context(), config)
	require.NoError(t, err)
	t.Cleanup(pages.Close)
	f.server.deps.DB = pages
	bob, _ := f.signedIn("bob")
	_, carolID := f.signedIn("carol")
	prod, dev := f.uid("analytics-prod"), f.uid("clickstream-dev")
	more := func(n int) {
		t.Helper()
		for range n {
			for _, uid := range []string{prod, dev} {
				kind := approvals.KindStop
				if uid == dev {
					kind = approvals.KindStart
				}
				_, err := f.service.Create(t.Context(), approvals.Actor{UserID: carolID, Name: "Carol", Groups: []string{"developers"},
					Origin: audit.Origin{IP: "192.0.2.1"}}, approvals.NewRequest{Kind: kind, ClusterUID: uid, Reason: "load"})
				require.NoError(t, err)
			}
			// A version of the request's own cluster, as a sync records it.
			_, err := f.pool.Exec(t.Context(), `INSERT INTO cluster_versions (cluster_uid, resource_version, spec)
				SELECT uid, 1000 + (SELECT count(*) FROM cluster_versions WHERE cluster_uid = uid), spec FROM clusters WHERE uid = $1`, r.ClusterUID)
			require.NoError(t, err)
		}
	}
	view := func() int64 {
		t.Helper()
		before := queries.n.Load()
		page := bob.get(requestPath(r.ID))
		require.Equal(t, http.StatusOK, page.status)
		require.Contains(t, page.body, `data-testid="approve-button"`)
		return queries.n.Load() - before
	}
	more(2)
	small := view()
	more(18)
	var count int
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT count(*) FROM change_requests`).Scan(&count))
	require.Equal(t, 41, count)
	require.Equal(t, small, view(), "statements of one view")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, r.ClusterUID)
	require.NoError(t, err)
	require.Equal(t, r.Revision.BaseResourceVersion, cl.ResourceVersion, "the added versions did not move the cluster")
}
