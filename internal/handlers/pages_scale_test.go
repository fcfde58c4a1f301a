package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/seed"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
	"github.com/clusterdesk/clusterdesk/web/static"
)

// scalePortal is the portal over real HTTP, wired as in production
// (inventory syncer and Cloud Manager client included), on a database
// seeded at a scale factor (seed.Scale): the simulator's clusters in the
// inventory, requests in every state, versions of one cluster (target)
// and audit events. Its pages' pool has a statement log.
type scalePortal struct {
	tb     testing.TB
	url    string
	sim    *sim.Server
	log    *statementLog
	people map[string]*http.Client // signed-in browsers by username
	// target is the cluster with the seeded versions and 15 open requests
	// of alice's, the newest of which is request.
	target  string
	request int64
}

// scaleViews are the main pages, each as one person sees it.
var scaleViews = []struct{ name, who, path string }{
	{"home", "alice", "/"},
	{"clusters", "alice", "/clusters"},
	{"cluster", "alice", "/clusters/{target}"},
	{"request", "alice", "/requests/{request}"},
	{"approvals", "carol", "/approvals"},
	{"requests", "alice", "/requests"},
	{"audit", "erin", "/audit"},
}

func (p *scalePortal) path(template string) string {
	return strings.NewReplacer("{target}", p.target, "{request}", strconv.FormatInt(p.request, 10)).Replace(template)
}

func newScalePortal(tb testing.TB, scale int) *scalePortal {
	tb.Helper()
	ctx := context.Background()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	amounts := seed.Scale(scale)
	pool := testdb.New(tb)
	p := &scalePortal{tb: tb, people: map[string]*http.Client{}, log: &statementLog{}}
	var api *cloudapi.Client
	p.sim, api = simtest.Start(tb, time.Millisecond)

	// The log first: its events end now, before anyone signs in.
	must(seed.AuditEvents(ctx, pool, amounts.AuditEvents))
	uids, err := seed.Clusters(ctx, api, amounts.Clusters)
	must(err)
	p.target = uids[0]
	syncer := inventory.NewSyncer(pool, api, inventory.Config{})
	_, err = syncer.Sync(ctx)
	must(err)
	_, err = seed.Versions(ctx, pool, api, p.target, amounts.Versions)
	must(err)
	_, err = syncer.Sync(ctx) // the cluster's row moves to its last version
	must(err)

	srv := httptest.NewUnstartedServer(nil)
	p.url = "http://" + srv.Listener.Addr().String()
	idp, _ := devidp.NewTestServer(tb, devidp.Config{Clients: []devidp.Client{{
		ID: testClientID, Secret: testClientSecret, RedirectURIs: []string{p.url + auth.CallbackPath},
	}}})
	logger := slog.New(slog.DiscardHandler)
	authn, err := auth.New(ctx, pool, auth.Config{
		Issuer: idp.Issuer(), ClientID: testClientID, ClientSecret: testClientSecret, BaseURL: p.url,
		Roles:  auth.RoleGroups{Requester: []string{"developers"}, Approver: []string{"approvers"}, Auditor: []string{"auditors"}},
		Logger: logger,
	})
	must(err)
	assets, err := static.Load()
	must(err)
	config := pool.Config()
	config.ConnConfig.Tracer = p.log
	pages, err := pgxpool.NewWithConfig(ctx, config)
	must(err)
	tb.Cleanup(pages.Close)
	srv.Config.Handler = New(Deps{Logger: logger, Assets: assets, Ready: func(context.Context) error { return nil },
		DB: pages, Auth: authn, Inventory: syncer, Cloud: api, Approvals: approvals.New(pages, approvals.Config{})})
	srv.Start()
	tb.Cleanup(srv.Close)
	for _, who := range []string{"alice", "carol", "erin"} {
		jar, err := cookiejar.New(nil)
		must(err)
		client := &http.Client{Jar: jar, Timeout: time.Minute}
		resp, err := devidp.Login(ctx, client, p.url+auth.LoginPath, who)
		must(err)
		_ = resp.Body.Close()
		p.people[who] = client
	}

	var alice int64
	must(pool.QueryRow(ctx, "SELECT id FROM users WHERE username = 'alice'").Scan(&alice))
	people, err := seed.Users(ctx, pool, 20)
	must(err)
	_, err = seed.Requests(ctx, pool, seed.RequestsOptions{N: amounts.Requests, Requesters: append(people, alice)})
	must(err)
	// The request page's cluster has more open requests than it lists.
	_, err = seed.Requests(ctx, pool, seed.RequestsOptions{N: 15, Open: 15, Every: time.Minute,
		Requesters: []int64{alice}, ClusterUIDs: []string{p.target}})
	must(err)
	must(pool.QueryRow(ctx, "SELECT max(id) FROM change_requests WHERE cluster_uid = $1", p.target).Scan(&p.request))
	_, err = pool.Exec(ctx, "VACUUM ANALYZE")
	must(err)
	return p
}

// view loads path as who, and returns its body and the statements the
// pages' pool ran for it.
func (p *scalePortal) view(who, path string) (string, []string) {
	p.tb.Helper()
	p.log.start()
	resp, err := p.people[who].Get(p.url + path)
	if err != nil {
		p.tb.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	statements := p.log.stop()
	if err != nil {
		p.tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		p.tb.Fatalf("GET %s as %s: %d", path, who, resp.StatusCode)
	}
	return string(body), statements
}

// statementLog records the text of the statements sent while on
// (pgx.QueryTracer).
type statementLog struct {
	mu   sync.Mutex
	on   bool
	sent []string
}

func (l *statementLog) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on, l.sent = true, nil
}

func (l *statementLog) stop() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	return l.sent
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		l.sent = append(l.sent, strings.Join(strings.Fields(d.SQL), " "))
	}
	return ctx
}

func (l *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Each main page runs the same statements, in number and text, on small
// data and on ten times as much: no list read whole, no query per row.
// And no page view calls Cloud Manager.
func TestPageStatementsDoNotGrowWithData(t *testing.T) {
	t.Parallel()
	small, large := newScalePortal(t, 1), newScalePortal(t, 10)
	for _, v := range scaleViews {
		calls := len(small.sim.Calls()) + len(large.sim.Calls())
		smallBody, want := small.view(v.who, small.path(v.path))
		largeBody, got := large.view(v.who, large.path(v.path))
		require.NotEmpty(t, want, v.name)
		require.Equal(t, want, got, "%s: the statements of one view at 1× and 10× data", v.name)
		require.Equal(t, calls, len(small.sim.Calls())+len(large.sim.Calls()), "%s: a view calls Cloud Manager", v.name)
		for i, body := range []string{smallBody, largeBody} {
			switch v.name {
			case "cluster":
				versions := seed.Scale([]int{1, 10}[i]).Versions + 1 // and the one it was created with
				require.Equal(t, min(versions, clusterVersionsShown), strings.Count(body, `data-testid="version-row"`))
				require.Equal(t, versions > clusterVersionsShown, strings.Contains(body, `data-testid="versions-older"`))
			case "request":
				require.Contains(t, body, `data-testid="request-overlaps-more"`, "15 other open requests: the first 10 and a link")
			case "clusters":
				clusters := seed.Scale([]int{1, 10}[i]).Clusters + 3 // and the simulator's own three
				require.Equal(t, min(clusters, clusterPageSize), strings.Count(body, `data-testid="cluster-row"`))
			}
		}
	}

	// Keyset pages: following the next links from the first page lists
	// every cluster once, and the previous link goes back.
	var seen []string
	next, pages := "/clusters?sort=environment", 0
	row := regexp.MustCompile(`data-testid="cluster-row" data-uid="([^"]+)"`)
	link := regexp.MustCompile(`href="([^"]+)"[^>]*data-testid="cluster-next"`)
	for next != "" {
		pages++
		body, _ := large.view("alice", next)
		for _, m := range row.FindAllStringSubmatch(body, -1) {
			seen = append(seen, m[1])
		}
		next = ""
		if m := link.FindStringSubmatch(body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	unique := slices.Clone(seen)
	slices.Sort(unique)
	require.Len(t, slices.Compact(unique), len(seen), "no cluster on two pages")
	require.Len(t, seen, seed.Scale(10).Clusters+3, "every cluster (and the simulator's three) once")
	require.Equal(t, (len(seen)+clusterPageSize-1)/clusterPageSize, pages)

	// The cluster's older versions, a page at a time, down to the first.
	body, _ := large.view("alice", "/clusters/"+large.target)
	older := regexp.MustCompile(`href="([^"]+)"[^>]*data-testid="versions-older"`)
	versions := strings.Count(body, `data-testid="version-row"`)
	for m := older.FindStringSubmatch(body); m != nil; m = older.FindStringSubmatch(body) {
		body, _ = large.view("alice", strings.ReplaceAll(m[1], "&amp;", "&"))
		versions += strings.Count(body, `data-testid="version-row"`)
	}
	require.GreaterOrEqual(t, versions, seed.Scale(10).Versions, "every version is reachable")
}

// growthResult is one page's p50 at one scale, for the ratio table.
type growthResult struct {
	p50, p99   time.Duration
	statements int
}

// BenchmarkPageGrowth (B8) loads each main page at 1×, 10× and 100× the
// base data (seed.Scale: clusters 30 → 3,000, requests 1,000 → 100,000,
// versions of the page's cluster 10 → 5,000, audit events 10,000 →
// 1,000,000), one view at a time, and reports p50, p99 and statements
// per view; at the end it prints p50(100×)/p50(1×) per page. Target:
// ≤ 1.5, statements equal.
func BenchmarkPageGrowth(b *testing.B) {
	scales := []int{1, 10, 100}
	results := map[string]map[int]growthResult{}
	for _, scale := range scales {
		var portal *scalePortal
		b.Run(fmt.Sprintf("scale=%d", scale), func(b *testing.B) {
			began := time.Now()
			portal = newScalePortal(b, scale)
			b.Logf("seeded %d× in %s", scale, time.Since(began).Round(time.Second))
			for _, v := range scaleViews {
				b.Run("page="+v.name, func(b *testing.B) {
					path := portal.path(v.path)
					for range 20 { // warm the caches and the statement cache
						portal.view(v.who, path)
					}
					var (
						latencies  []time.Duration
						statements int
					)
					for b.Loop() {
						began := time.Now()
						_, sent := portal.view(v.who, path)
						latencies = append(latencies, time.Since(began))
						statements = len(sent)
					}
					slices.Sort(latencies)
					r := growthResult{p50: latencies[len(latencies)/2], p99: latencies[len(latencies)*99/100], statements: statements}
					if results[v.name] == nil {
						results[v.name] = map[int]growthResult{}
					}
					results[v.name][scale] = r
					b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(statements), "statements/view")
				})
			}
		})
	}
	var out strings.Builder
	out.WriteString("\n| page | p50 1× | p50 10× | p50 100× | p99 1× | p99 100× | p50 100×/1× | statements 1×/10×/100× |\n")
	out.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	for _, v := range scaleViews {
		r := results[v.name]
		if len(r) < len(scales) {
			continue // a -bench filter left a scale out
		}
		fmt.Fprintf(&out, "| %s | %s | %s | %s | %s | %s | %.2f× | %d / %d / %d |\n", v.name,
			ms(r[1].p50), ms(r[10].p50), ms(r[100].p50), ms(r[1].p99), ms(r[100].p99),
			float64(r[100].p50)/float64(r[1].p50), r[1].statements, r[10].statements, r[100].statements)
	}
	b.Log(out.String())
}
