package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/browsertest"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// TestEveryPageAtBothSizes visits every page of the portal, as the people
// who see it, at a laptop's size (1280×800) and a phone's (390×844), and
// holds each to the same bar: axe-core finds no violation of any impact,
// nothing scrolls sideways on the phone, the page has a favicon that
// answers, and the page raises no exception or CSP violation. With
// PORTAL_SCREENSHOTS=dir it saves the mobile cluster page there.
func TestEveryPageAtBothSizes(t *testing.T) {
	t.Parallel()
	vars, _ := testEnvSim(t)
	vars["PORTAL_REQUESTER_GROUPS"] = "developers" // as `portal dev`: mallory has no role
	base, pool := serveDemo(t, vars)

	// alice signs in once so that she exists, then files one request of
	// each kind a form files; the pages below show them.
	first := &pageTour{t: t, base: base, tab: browsertest.New(t)}
	first.signIn("alice")
	staging := clusterByName(t, pool, "analytics-staging")
	dev := clusterByName(t, pool, "clickstream-dev")
	requests := fileOneOfEachKind(t, pool, staging, dev)

	pages := map[string][]string{
		"anyone": {"/"}, // the development provider's sign-in page
		"alice": {
			"/", "/clusters", "/clusters/" + staging.UID, "/clusters/" + dev.UID,
			"/clusters/new", "/clusters/" + staging.UID + "/update",
			"/clusters/" + staging.UID + "/requests/new?kind=stop",
			"/clusters/" + staging.UID + "/requests/new?kind=restart_server",
			"/clusters/" + dev.UID + "/requests/new?kind=delete",
			"/clusters/" + staging.UID + "/replace",
			"/clusters/" + staging.UID + "/versions/compare",
			"/requests", "/requests?mine=1&state=pending",
			"/requests/999999", // an error page
		},
		"bob":     {"/approvals", "/requests?waiting=1"},
		"erin":    {"/audit", "/audit?person=alice&cluster=analytics-staging", "/audit/verify"},
		"mallory": {"/", "/clusters"},
	}
	for _, id := range requests {
		pages["bob"] = append(pages["bob"], "/requests/"+strconv.FormatInt(id, 10))
	}

	// A browser for each person, size and few pages: one browser's time
	// is bounded (browsertest.Timeout).
	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		for _, who := range []string{"anyone", "alice", "bob", "erin", "mallory"} {
			for few := range slices.Chunk(pages[who], 5) {
				tour := &pageTour{t: t, base: base, tab: browsertest.New(t)}
				report := browsertest.Watch(t, tour.tab)
				require.NoError(t, browsertest.Resize(tour.tab, size))
				if who != "anyone" {
					tour.signIn(who)
				}
				for _, path := range few {
					tour.check(size, who, path)
				}
				browsertest.Settle()
				assert.Empty(t, report.CSPViolations(), who, size.Name)
				assert.Empty(t, report.Exceptions(), who, size.Name)
			}
		}
	}
	if shots := os.Getenv("PORTAL_SCREENSHOTS"); shots != "" {
		require.NoError(t, browsertest.Resize(first.tab, browsertest.Mobile))
		first.screenshot(shots, "/clusters/"+staging.UID, "cluster-page-mobile.png")
	}
}

// pageTour holds what the tour's steps share.
type pageTour struct {
	t    *testing.T
	base string
	tab  context.Context
}

func (p *pageTour) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		where, _ := chromedp.Run(p.tab, chromedp.Location())
		text, _ := chromedp.Run(p.tab, chromedp.Evaluate[string](`document.readyState + " " + JSON.stringify(performance.getEntriesByType("resource").map(r => [r.name, Math.round(r.duration), r.responseStatus])) + (document.body ? document.body.innerText : "")`))
		p.t.Fatalf("browser step failed at %s: %v\n%s", where, err, text[:min(len(text), 2000)])
	}
}

func (p *pageTour) signIn(who string) {
	p.t.Helper()
	p.do(
		chromedp.Navigate(p.base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-`+who+`"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="user-`+who+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-user"]`)),
	)
}

// check opens path as who and judges the page.
func (p *pageTour) check(size browsertest.Size, who, path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base+path), chromedp.WaitReady(chromedp.CSS(`main, body`)))
	time.Sleep(150 * time.Millisecond) // live parts connect and may swap once
	p.judge(size, who, path)
}

// judge holds the open page to the bar, reporting every miss (not only
// the first) so that one run lists all that is left to fix.
func (p *pageTour) judge(size browsertest.Size, who, what string) {
	p.t.Helper()
	at := fmt.Sprintf("%s as %s at %s", what, who, size.Name)
	violations, err := browsertest.Axe(p.tab)
	require.NoError(p.t, err, at)
	for _, v := range violations {
		p.t.Errorf("%s: axe: %s", at, v)
	}
	over, culprits, err := browsertest.Overflow(p.tab)
	require.NoError(p.t, err, at)
	if over > 0 {
		p.t.Errorf("%s: the page is %d px wider than the viewport: %s", at, over, strings.Join(culprits, "; "))
	}
	if dir := os.Getenv("PORTAL_TOUR_SHOTS"); dir != "" {
		png, err := chromedp.Run(p.tab, chromedp.FullScreenshot(100))
		require.NoError(p.t, err)
		name := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(size.Name+"-"+who+"-"+what), "-"), "-")
		require.NoError(p.t, os.MkdirAll(dir, 0o755))
		require.NoError(p.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
	}
	href, loads, err := browsertest.Favicon(p.tab)
	require.NoError(p.t, err, at)
	if href == "" || !loads {
		p.t.Errorf("%s: favicon %q does not load", at, href)
	}
}

func (p *pageTour) screenshot(dir, path, name string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base+path), chromedp.WaitReady(chromedp.CSS(`main`)))
	time.Sleep(300 * time.Millisecond)
	png, err := chromedp.Run(p.tab, chromedp.CaptureScreenshot())
	require.NoError(p.t, err)
	require.NoError(p.t, os.MkdirAll(dir, 0o755))
	require.NoError(p.t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}

// serveDemo starts the real program (serve) with vars and returns its URL
// and a pool on its database, once the worker's first sync has copied the
// simulator's demo clusters.
func serveDemo(t *testing.T, vars map[string]string) (string, *pgxpool.Pool) {
	t.Helper()
	base, _ := start(t, []string{"serve"}, vars)
	pool, err := database.Open(t.Context(), vars["PORTAL_DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		for _, name := range []string{"analytics-prod", "analytics-staging", "clickstream-dev"} {
			list, err := inventory.ClusterByName(t.Context(), pool, name)
			require.NoError(c, err)
			require.Len(c, list, 1, name)
		}
	}, 30*time.Second, 100*time.Millisecond, "the worker's first sync copies the demo clusters")
	return base, pool
}

func clusterByName(t *testing.T, pool *pgxpool.Pool, name string) inventory.Cluster {
	t.Helper()
	list, err := inventory.ClusterByName(t.Context(), pool, name)
	require.NoError(t, err)
	require.Len(t, list, 1)
	return list[0]
}

// fileOneOfEachKind files, as alice, a request of every kind a form files:
// create, update, stop, start, delete and restart_server.
func fileOneOfEachKind(t *testing.T, pool *pgxpool.Pool, running, stopped inventory.Cluster) []int64 {
	t.Helper()
	ctx := t.Context()
	var id int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM users WHERE username = 'alice'`).Scan(&id))
	alice := approvals.Actor{UserID: id, Name: "Alice Anderson", Groups: []string{"developers"}, Origin: audit.Origin{IP: "192.0.2.1"}}
	svc := approvals.New(pool, approvals.Config{})

	update := running.Spec
	update.Query = new(*update.Query)
	update.Query.Replicas = new(*update.Query.Replicas + 1)
	created := running.Spec
	require.NotEmpty(t, running.Status.Servers)
	seen := running.ResourceVersion
	asks := []approvals.NewRequest{
		{Kind: approvals.KindCreate, Name: "tour-new", Spec: &created, Reason: "a cluster for the tour"},
		{Kind: approvals.KindUpdate, ClusterUID: running.UID, Spec: &update, SeenResourceVersion: &seen, Reason: "one more query server"},
		{Kind: approvals.KindStop, ClusterUID: running.UID, Reason: "quiet weekend"},
		{Kind: approvals.KindStart, ClusterUID: stopped.UID, Reason: "back to work"},
		{Kind: approvals.KindDelete, ClusterUID: stopped.UID, Reason: "no longer used"},
		{Kind: approvals.KindRestartServer, ClusterUID: running.UID, InstanceID: running.Status.Servers[0].InstanceID, Reason: "stuck JVM"},
	}
	var ids []int64
	for _, ask := range asks {
		r, err := svc.Create(ctx, alice, ask)
		require.NoError(t, err, ask.Kind)
		ids = append(ids, r.ID)
	}
	return ids
}
