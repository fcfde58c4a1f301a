package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/live"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
	"github.com/clusterdesk/clusterdesk/web/static"
)

// liveBench is the portal over real HTTP with a production hub (100 ms
// debounce), the simulator's clusters in its inventory, and a client
// signed in as alice.
type liveBench struct {
	tb   testing.TB
	url  string
	pool *pgxpool.Pool
	hub  *live.Hub
	jar  http.CookieJar
	uid  string
	// queries counts the statements of the pages' pool (the sessions and
	// the benchmark's own changes use another).
	queries *queryCounter
	runs    int // scenarios run so far; each writes markers of its own
	// sim is Cloud Manager; its call log counts the upstream calls.
	sim *sim.Server
}

func newLiveBench(tb testing.TB) *liveBench {
	tb.Helper()
	ctx := context.Background()
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	lb := &liveBench{tb: tb, pool: testdb.New(tb)}
	srv := httptest.NewUnstartedServer(nil)
	lb.url = "http://" + srv.Listener.Addr().String()
	idp, _ := devidp.NewTestServer(tb, devidp.Config{Clients: []devidp.Client{{
		ID: testClientID, Secret: testClientSecret, RedirectURIs: []string{lb.url + auth.CallbackPath},
	}}})
	logger := slog.New(slog.DiscardHandler)
	authn, err := auth.New(ctx, lb.pool, auth.Config{
		Issuer: idp.Issuer(), ClientID: testClientID, ClientSecret: testClientSecret, BaseURL: lb.url,
		Roles:  auth.RoleGroups{Requester: []string{"developers"}, Approver: []string{"approvers"}},
		Logger: logger,
	})
	must(err)
	assets, err := static.Load()
	must(err)
	var client *cloudapi.Client
	lb.sim, client = simtest.Start(tb, 5*time.Millisecond)
	syncer := inventory.NewSyncer(lb.pool, client, inventory.Config{})
	_, err = syncer.Sync(ctx)
	must(err)
	list, err := inventory.ClusterByName(ctx, lb.pool, "analytics-staging")
	must(err)
	lb.uid = list[0].UID

	hubCtx, stop := context.WithCancel(ctx)
	lb.hub, err = live.Start(hubCtx, lb.pool, logger)
	must(err)
	lb.queries = &queryCounter{}
	config := lb.pool.Config()
	config.ConnConfig.Tracer = lb.queries
	pages, err := pgxpool.NewWithConfig(ctx, config)
	must(err)
	tb.Cleanup(pages.Close)
	srv.Config.Handler = New(Deps{Logger: logger, Assets: assets, Ready: func(context.Context) error { return nil },
		DB: pages, Auth: authn, Live: lb.hub, Inventory: syncer, Cloud: client})
	// The worker's periodic inventory sync is left out: it would rewrite
	// synced_at, the marker the viewers time. Its calls (one list per
	// interval) do not depend on viewers by construction; what is counted
	// here is what viewers cause: page loads and streams.

	srv.Start()
	tb.Cleanup(srv.Close)
	tb.Cleanup(func() { stop(); <-lb.hub.Done() }) // before srv.Close: the streams end first

	lb.jar, err = cookiejar.New(nil)
	must(err)
	resp, err := devidp.Login(ctx, &http.Client{Jar: lb.jar}, lb.url+auth.LoginPath, "alice")
	must(err)
	_ = resp.Body.Close()
	return lb
}

// queryCounter counts the statements sent (pgx.QueryTracer).
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// liveRun is what one scenario measured.
type liveRun struct {
	latencies     []time.Duration // commit to a viewer reading the change, every viewer and change
	bytesPerConn  float64         // heap growth per open stream (client and server side)
	drawsPerChg   float64
	queriesPerChg float64
	// callsPerMin are the calls Cloud Manager received while the viewers
	// loaded the page, watched it and the cluster changed, per minute.
	callsPerMin float64
}

// benchMarker is the synced time the n-th change of scenario run writes;
// the cluster page's status section shows it as <time datetime=…>. It
// lies in the future: the page shows the later of the row's synced_at and
// the last sync run's (inventory_state).
func benchMarker(run, n int) time.Time { return time.Date(2100, 1, 1, 0, run, n, 0, time.UTC) }

// run opens viewers streams of one cluster page, then commits changes
// changes a second apart (an UPDATE and its NOTIFY in one transaction),
// and times each viewer's receipt of each change.
func (lb *liveBench) run(viewers, changes int) liveRun {
	lb.tb.Helper()
	lb.runs++
	scenario := lb.runs
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := &http.Client{Jar: lb.jar, Transport: &http.Transport{MaxIdleConnsPerHost: viewers}}
	defer client.CloseIdleConnections()

	var (
		mu       sync.Mutex
		received = make([]map[int]time.Time, viewers)
		ready    sync.WaitGroup
		done     sync.WaitGroup
	)
	began, calls := time.Now(), len(lb.sim.Calls())
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	ready.Add(viewers)
	done.Add(viewers)
	for i := range viewers {
		received[i] = map[int]time.Time{}
		go func() {
			defer done.Done()
			first := true
			defer func() {
				if first {
					ready.Done()
				}
			}()
			// The page first, as a browser loads it, then its stream.
			page, _ := http.NewRequestWithContext(ctx, http.MethodGet, lb.url+"/clusters/"+lb.uid, nil)
			if resp, err := client.Do(page); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, lb.url+"/clusters/"+lb.uid+"/events", nil)
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReaderSize(resp.Body, 4096)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if first && strings.HasPrefix(line, "event: ") {
					first = false
					ready.Done()
				}
				at := strings.Index(line, `datetime="2000-01-01T00:`)
				if at < 0 {
					continue
				}
				now := time.Now()
				stamp, err := time.Parse(time.RFC3339, line[at+len(`datetime="`):at+len(`datetime="`)+20])
				if err != nil {
					continue
				}
				if stamp.Minute() != scenario {
					continue // an earlier scenario's change
				}
				n := stamp.Second()
				mu.Lock()
				if _, seen := received[i][n]; !seen {
					received[i][n] = now
				}
				mu.Unlock()
			}
		}()
	}
	ready.Wait()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	draws, queries := lb.hub.Stats().Draws, lb.queries.n.Load()
	committed := make(map[int]time.Time, changes)
	for n := 1; n <= changes; n++ {
		time.Sleep(time.Second)
		payload, _ := json.Marshal(inventory.Notification{Type: "cluster", Change: "changed", UID: lb.uid})
		err := pgx.BeginFunc(ctx, lb.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE clusters SET synced_at = $2 WHERE uid = $1`, lb.uid, benchMarker(scenario, n)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, inventory.NotifyChannel, string(payload))
			return err
		})
		if err != nil {
			lb.tb.Fatal(err)
		}
		committed[n] = time.Now()
	}
	// Wait for the last change to reach everyone (bounded).
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		all := true
		for i := range viewers {
			if _, ok := received[i][changes]; !ok {
				all = false
				break
			}
		}
		mu.Unlock()
		if all {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	drawn, queried := lb.hub.Stats().Draws-draws, lb.queries.n.Load()-queries
	upstream := float64(len(lb.sim.Calls())-calls) / time.Since(began).Minutes()
	cancel()
	done.Wait()

	var out liveRun
	mu.Lock()
	defer mu.Unlock()
	for i := range viewers {
		for n, at := range committed {
			if got, ok := received[i][n]; ok {
				out.latencies = append(out.latencies, got.Sub(at))
			}
		}
	}
	if missing := viewers*changes - len(out.latencies); missing > 0 {
		lb.tb.Errorf("%d of %d deliveries missing", missing, viewers*changes)
	}
	slices.Sort(out.latencies)
	out.bytesPerConn = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(viewers)
	out.drawsPerChg = float64(drawn) / float64(changes)
	out.queriesPerChg = float64(queried) / float64(changes)
	out.callsPerMin = upstream
	return out
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkLiveClusterViewers: 1,000 browsers watch one cluster page over
// real HTTP while the cluster changes once a second (an UPDATE and its
// NOTIFY committed together); the same with a single viewer for
// comparison. It reports the time from commit to a viewer reading the
// change (p50, p99; the hub debounces 100 ms), heap per open stream, and
// draws (renders) and database statements per change, which must not
// grow with viewers.
func BenchmarkLiveClusterViewers(b *testing.B) {
	const changes = 10
	lb := newLiveBench(b)
	for b.Loop() {
		one := lb.run(1, changes)
		many := lb.run(1000, changes)
		b.ReportMetric(ms(percentile(one.latencies, 0.50)), "p50-ms-1viewer")
		b.ReportMetric(ms(percentile(one.latencies, 0.99)), "p99-ms-1viewer")
		b.ReportMetric(ms(percentile(many.latencies, 0.50)), "p50-ms-1000viewers")
		b.ReportMetric(ms(percentile(many.latencies, 0.99)), "p99-ms-1000viewers")
		b.ReportMetric(float64(percentile(many.latencies, 0.50))/float64(percentile(one.latencies, 0.50)), "p50-ratio")
		b.ReportMetric(many.bytesPerConn, "heap-B/conn")
		b.ReportMetric(one.drawsPerChg, "draws/change-1viewer")
		b.ReportMetric(many.drawsPerChg, "draws/change-1000viewers")
		b.ReportMetric(one.queriesPerChg, "queries/change-1viewer")
		b.ReportMetric(many.queriesPerChg, "queries/change-1000viewers")
		b.ReportMetric(one.callsPerMin, "upstream-calls/min-1viewer")
		b.ReportMetric(many.callsPerMin, "upstream-calls/min-1000viewers")
	}
}
