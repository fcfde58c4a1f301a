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
	pool   *pgxpool.Pool // the seeding's own, without the statement log
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
	p := &scalePortal{tb: tb, pool: pool, people: map[string]*http.Client{}, log: &statementLog{}}
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

	// The approver's queue pages past its first 100 requests.
	ctx := context.Background()
	var pending int
	require.NoError(t, small.pool.QueryRow(ctx, "SELECT count(*) FROM change_requests WHERE state = 'pending'").Scan(&pending))
	people, err := seed.Users(ctx, small.pool, 3)
	require.NoError(t, err)
	_, err = seed.Requests(ctx, small.pool, seed.RequestsOptions{N: 360, Open: 360, Requesters: people})
	require.NoError(t, err)
	require.NoError(t, small.pool.QueryRow(ctx, "SELECT count(*) FROM change_requests WHERE state = 'pending'").Scan(&pending))
	require.Greater(t, pending, approvalsQueueShown, "more than one page")
	queued := map[string]bool{}
	queueRow := regexp.MustCompile(`data-testid="request-row" data-id="([0-9]+)"`)
	queueNext := regexp.MustCompile(`href="([^"]+)"[^>]*data-testid="queue-older"`)
	next, pages = "/approvals", 0
	for next != "" {
		pages++
		body, sent := small.view("carol", next)
		require.Len(t, sent, 1, "one statement a page, however deep")
		for _, m := range queueRow.FindAllStringSubmatch(body, -1) {
			require.False(t, queued[m[1]], "request %s on two pages", m[1])
			queued[m[1]] = true
		}
		next = ""
		if m := queueNext.FindStringSubmatch(body); m != nil {
			next = m[1]
		}
	}
	require.Len(t, queued, pending, "every pending request of others, once (carol filed none)")
	require.Equal(t, (pending+approvalsQueueShown-1)/approvalsQueueShown, pages)
}

// BenchmarkPageGrowth (B8) loads each main page at 1×, 10× and 100× the
// base data (seed.Scale: clusters 30 → 3,000, requests 1,000 → 100,000,
// versions of the page's cluster 10 → 5,000, audit events 10,000 →
// 1,000,000), one view at a time. The three portals run side by side and
// each iteration views the page once at each scale, so a busy box slows
// the three alike and the ratio holds. It reports p50 and p99 per scale,
// statements per view, and p50(100×)/p50(1×), and prints the table at the
// end. Target: ratio ≤ 1.5, statements equal.
func BenchmarkPageGrowth(b *testing.B) {
	scales := []int{1, 10, 100}
	portals := make([]*scalePortal, len(scales))
	for i, scale := range scales {
		began := time.Now()
		portals[i] = newScalePortal(b, scale)
		fmt.Printf("B8: seeded %d× in %s\n", scale, time.Since(began).Round(time.Second))
	}
	type result struct {
		p50, p99   []time.Duration
		statements []int
	}
	results := map[string]result{}
	for _, v := range scaleViews {
		b.Run("page="+v.name, func(b *testing.B) {
			paths := make([]string, len(portals))
			for i, p := range portals {
				paths[i] = p.path(v.path)
				for range 20 { // warm the caches and the statement cache
					p.view(v.who, paths[i])
				}
			}
			latencies := make([][]time.Duration, len(portals))
			statements := make([]int, len(portals))
			for b.Loop() {
				for i, p := range portals {
					began := time.Now()
					_, sent := p.view(v.who, paths[i])
					latencies[i] = append(latencies[i], time.Since(began))
					statements[i] = len(sent)
				}
			}
			r := result{statements: statements}
			for i, l := range latencies {
				slices.Sort(l)
				r.p50, r.p99 = append(r.p50, l[len(l)/2]), append(r.p99, l[len(l)*99/100])
				b.ReportMetric(float64(r.p50[i].Microseconds())/1000, fmt.Sprintf("p50-%dx-ms", scales[i]))
				b.ReportMetric(float64(r.p99[i].Microseconds())/1000, fmt.Sprintf("p99-%dx-ms", scales[i]))
			}
			b.ReportMetric(float64(r.p50[2])/float64(r.p50[0]), "p50-100x/1x")
			b.ReportMetric(float64(statements[2]), "statements/view")
			results[v.name] = r
		})
	}
	var out strings.Builder
	out.WriteString("\n| page | p50 1× | p50 10× | p50 100× | p99 1× | p99 10× | p99 100× | p50 100×/1× | statements 1× / 10× / 100× |\n")
	out.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	for _, v := range scaleViews {
		r, ok := results[v.name]
		if !ok {
			continue // left out by a -bench filter
		}
		fmt.Fprintf(&out, "| %s | %s | %s | %s | %s | %s | %s | %.2f× | %d / %d / %d |\n", v.name,
			ms(r.p50[0]), ms(r.p50[1]), ms(r.p50[2]), ms(r.p99[0]), ms(r.p99[1]), ms(r.p99[2]),
			float64(r.p50[2])/float64(r.p50[0]), r.statements[0], r.statements[1], r.statements[2])
	}
	fmt.Print(out.String()) // b.Log of a benchmark with sub-benchmarks is not printed
}
