package handlers

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
	"github.com/clusterdesk/clusterdesk/internal/worker"
	"github.com/clusterdesk/clusterdesk/web/static"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// BenchmarkFrameworkTax is B1 of issue 19: what echo, the middleware, the
// session and templ cost on each main page, against a bare net/http
// handler that makes the same domain calls (so the same SQL; no page calls
// Cloud Manager) for a fixed
// viewer, without a session, and renders the same rows with
// html/template. Both are called in process (ServeHTTP, no sockets) with
// one request at a time (c=1) and 32 at once (c=32); rounds alternate
// between the two. It reports p50, p99 and throughput of each and their
// ratios (framework / bare; throughput bare-relative). Run with
// -benchtime=1x: the request count is PORTAL_BENCH_B1_REQUESTS (default
// 300 per round and concurrency, 3 rounds).
//
// The bare pages render the same rows and fields with less chrome than the
// real ones (no filter forms, no risk hints, no diff table), so the ratios
// are an upper bound of the framework's share.
func BenchmarkFrameworkTax(b *testing.B) {
	fb := newFrameworkBench(b)
	requests := 300
	if v, err := strconv.Atoi(os.Getenv("PORTAL_BENCH_B1_REQUESTS")); err == nil && v > 0 {
		requests = v
	}
	const rounds = 3
	var table strings.Builder
	table.WriteString("| page | c | framework p50 | bare p50 | p50 × | framework p99 | bare p99 | p99 × | framework req/s | bare req/s | throughput × | p50 × / throughput × against bare + session |\n")
	table.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range fb.pages() {
		for _, c := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/c=%d", p.name, c), func(b *testing.B) {
				var fw, bare, session loadResult
				for range b.N {
					for range rounds {
						fw.add(fb.load(b, fb.server, p.framework, c, requests))
						bare.add(fb.load(b, p.bare, p.bareReq, c, requests))
						session.add(fb.load(b, fb.withSession(p.bare), p.framework, c, requests))
					}
				}
				b.ReportMetric(msOf(fw.percentile(0.50)), "fw-p50-ms")
				b.ReportMetric(msOf(bare.percentile(0.50)), "bare-p50-ms")
				b.ReportMetric(fw.percentile(0.50).Seconds()/bare.percentile(0.50).Seconds(), "p50-x")
				b.ReportMetric(fw.percentile(0.99).Seconds()/bare.percentile(0.99).Seconds(), "p99-x")
				b.ReportMetric(fw.throughput()/bare.throughput(), "tput-x")
				b.ReportMetric(0, "ns/op")
				fmt.Fprintf(&table, "| %s | %d | %.2f ms | %.2f ms | %.2f | %.2f ms | %.2f ms | %.2f | %.0f | %.0f | %.2f | %.2f / %.2f |\n",
					p.name, c, msOf(fw.percentile(0.50)), msOf(bare.percentile(0.50)), fw.percentile(0.50).Seconds()/bare.percentile(0.50).Seconds(),
					msOf(fw.percentile(0.99)), msOf(bare.percentile(0.99)), fw.percentile(0.99).Seconds()/bare.percentile(0.99).Seconds(),
					fw.throughput(), bare.throughput(), fw.throughput()/bare.throughput(),
					fw.percentile(0.50).Seconds()/session.percentile(0.50).Seconds(), fw.throughput()/session.throughput())
			})
		}
	}
	b.Logf("B1, %d requests × %d rounds per row and side:\n%s", requests, rounds, table.String())
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadResult is the latencies and wall time of some runs.
type loadResult struct {
	latencies []time.Duration
	elapsed   time.Duration
}

func (r *loadResult) add(o loadResult) {
	r.latencies = append(r.latencies, o.latencies...)
	r.elapsed += o.elapsed
}

func (r *loadResult) percentile(p float64) time.Duration {
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func (r *loadResult) throughput() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

// load sends n requests made by newReq to h from c workers (a closed loop)
// and fails on any answer but 200.
func (fb *frameworkBench) load(b *testing.B, h http.Handler, newReq func() *http.Request, c, n int) loadResult {
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	lat := make([][]time.Duration, c)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range c {
		wg.Go(func() {
			for range work {
				req := newReq()
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				lat[i] = append(lat[i], time.Since(start))
				if rec.Code != http.StatusOK {
					b.Errorf("%s: status %d: %.300s", req.URL, rec.Code, rec.Body.String())
					return
				}
			}
		})
	}
	wg.Wait()
	return loadResult{latencies: slices.Concat(lat...), elapsed: time.Since(began)}
}

// frameworkBench is the portal wired as `portal serve` wires its pages
// (sessions, approvals, inventory re-reads and dry runs against the
// simulator), people signed in, and requests filed.
type frameworkBench struct {
	pool    *pgxpool.Pool
	auth    *auth.Service
	server  *Server
	syncer  *inventory.Syncer
	cloud   *cloudapi.Client
	cookies map[string]string          // username → Cookie header of their session
	actors  map[string]approvals.Actor // username → who the bare pages serve
	uid     string                     // a cluster with requests
	request int64                      // alice's pending request, which carol may approve
}

func newFrameworkBench(tb testing.TB) *frameworkBench {
	tb.Helper()
	ctx := context.Background()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	fb := &frameworkBench{pool: testdb.New(tb), cookies: map[string]string{}, actors: map[string]approvals.Actor{}}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	idp, _ := devidp.NewTestServer(tb, devidp.Config{Clients: []devidp.Client{{
		ID: testClientID, Secret: testClientSecret, RedirectURIs: []string{base + auth.CallbackPath},
	}}})
	logger := slog.New(slog.DiscardHandler)
	authn, err := auth.New(ctx, fb.pool, auth.Config{
		Issuer: idp.Issuer(), ClientID: testClientID, ClientSecret: testClientSecret, BaseURL: base,
		Roles:  auth.RoleGroups{Requester: []string{"developers"}, Approver: []string{"approvers"}, Auditor: []string{"auditors"}},
		Logger: logger,
	})
	must(err)
	fb.auth = authn
	assets, err := static.Load()
	must(err)
	_, fb.cloud = simtest.Start(tb, 5*time.Millisecond)
	rules, err := inventory.ParseNameRules("-dev$=development")
	must(err)
	fb.syncer = inventory.NewSyncer(fb.pool, fb.cloud, inventory.Config{Rules: inventory.Rules{Environments: rules}})
	_, err = fb.syncer.Sync(ctx)
	must(err)
	enqueue, err := worker.Enqueuer(fb.pool)
	must(err)
	service := approvals.New(fb.pool, approvals.Config{OnApproved: enqueue})
	fb.server = New(Deps{Logger: logger, Assets: assets, Ready: func(context.Context) error { return nil },
		DB: fb.pool, Auth: authn, Approvals: service, Inventory: fb.syncer, Cloud: fb.cloud})
	srv.Config.Handler = fb.server
	srv.Start()
	tb.Cleanup(srv.Close)

	for _, who := range []string{"alice", "carol", "erin"} {
		jar, err := cookiejar.New(nil)
		must(err)
		resp, err := devidp.Login(ctx, &http.Client{Jar: jar}, base+auth.LoginPath, who)
		must(err)
		_ = resp.Body.Close()
		u, _ := url.Parse(base)
		var cookies []string
		for _, c := range jar.Cookies(u) {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		fb.cookies[who] = strings.Join(cookies, "; ")
		var a approvals.Actor
		must(fb.pool.QueryRow(ctx, "SELECT id, name FROM users WHERE username = $1", who).Scan(&a.UserID, &a.Name))
		fb.actors[who] = a
	}
	carol := fb.actors["carol"]
	carol.Groups, carol.Approver = []string{"approvers"}, true
	fb.actors["carol"] = carol
	alice := fb.actors["alice"]
	alice.Groups = []string{"developers"}
	fb.actors["alice"] = alice

	// Alice asks to stop each cluster but the first (each cluster takes
	// one open request at most); the page benchmarks look at the first
	// of these, and everyone's lists show them all.
	clusters, err := inventory.ClusterList(ctx, fb.pool, inventory.Filter{Limit: 50})
	must(err)
	for i, cl := range clusters[1:] {
		r, err := service.Create(ctx, approvals.Actor{UserID: alice.UserID, Name: alice.Name, Groups: alice.Groups,
			Origin: audit.Origin{IP: "192.0.2.1"}}, approvals.NewRequest{Kind: approvals.KindStop, ClusterUID: cl.UID, Reason: "cost review " + strconv.Itoa(i)})
		if err != nil {
			continue // stopped already, or busy
		}
		if fb.request == 0 {
			fb.request, fb.uid = r.ID, cl.UID
		}
	}
	if fb.request == 0 {
		tb.Fatal("the simulator lists too few clusters")
	}
	_, err = audit.ChainAll(ctx, fb.pool)
	must(err)
	return fb
}

// benchPage is one page, as the portal serves it and as the bare server does.
type benchPage struct {
	name      string
	framework func() *http.Request
	bare      http.Handler
	bareReq   func() *http.Request
}

func (fb *frameworkBench) pages() []benchPage {
	get := func(path, who string) func() *http.Request {
		return func() *http.Request {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Cookie", fb.cookies[who])
			return req
		}
	}
	bare := func(path string) func() *http.Request {
		return func() *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }
	}
	requestPath := "/requests/" + strconv.FormatInt(fb.request, 10)
	return []benchPage{
		{"home", get("/", "alice"), fb.bareHandler(fb.bareHome, "alice"), bare("/")},
		{"clusters", get("/clusters", "alice"), fb.bareHandler(fb.bareClusters, "alice"), bare("/clusters")},
		{"cluster", get("/clusters/"+fb.uid, "alice"), fb.bareHandler(fb.bareCluster, "alice"), bare("/clusters/" + fb.uid)},
		{"request (requester)", get(requestPath, "alice"), fb.bareHandler(fb.bareRequest, "alice"), bare(requestPath)},
		{"request (approver)", get(requestPath, "carol"), fb.bareHandler(fb.bareRequest, "carol"), bare(requestPath)},
		{"approvals", get("/approvals", "carol"), fb.bareHandler(fb.bareApprovals, "carol"), bare("/approvals")},
		{"audit", get("/audit", "erin"), fb.bareHandler(fb.bareAudit, "erin"), bare("/audit")},
	}
}

// bareHandler is a plain net/http handler for one viewer: it loads the
// page's data, renders it into a buffer with html/template, then writes.
func (fb *frameworkBench) bareHandler(load func(ctx context.Context, r *http.Request, viewer approvals.Actor) (string, any, error), who string) http.Handler {
	viewer := fb.actors[who]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, data, err := load(r.Context(), r, viewer)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var buf strings.Builder
		if err := bareTemplates.ExecuteTemplate(&buf, name, bareView{Viewer: viewer.Name, Data: data}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, buf.String())
	})
}

// withSession is h after the one thing the framework's pages need that
// the bare server skips: reading the session (one statement), as
// requireSignIn does. The difference to the framework is then echo, the
// other middleware and templ.
func (fb *frameworkBench) withSession(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(fb.server.sessionCookie())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if _, err := fb.auth.Session(r.Context(), c.Value); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type bareView struct {
	Viewer string
	Data   any
}

func (fb *frameworkBench) bareHome(ctx context.Context, _ *http.Request, viewer approvals.Actor) (string, any, error) {
	var v struct {
		Mine, Awaiting, Recent []approvals.Request
		Counts                 templates.HomeCounts
	}
	var err error
	if v.Mine, err = approvals.ListMine(ctx, fb.pool, viewer.UserID, approvals.Page{Limit: homeListShown}); err != nil {
		return "", nil, err
	}
	if viewer.Approver {
		if v.Awaiting, err = approvals.ListAwaiting(ctx, fb.pool, viewer, approvals.Page{Limit: homeListShown}); err != nil {
			return "", nil, err
		}
	}
	if v.Recent, err = approvals.ListRecent(ctx, fb.pool, approvals.Page{Limit: homeListShown}); err != nil {
		return "", nil, err
	}
	v.Counts, err = requestCounts(ctx, fb.pool)
	return "home", v, err
}

func (fb *frameworkBench) bareClusters(ctx context.Context, _ *http.Request, _ approvals.Actor) (string, any, error) {
	var v struct {
		Environments []string
		Clusters     []inventory.Summary
		Pending      map[string]int
	}
	var err error
	if v.Environments, err = inventory.Environments(ctx, fb.pool); err != nil {
		return "", nil, err
	}
	if v.Clusters, err = inventory.ClusterList(ctx, fb.pool, inventory.Filter{Limit: clusterPageSize + 1}); err != nil {
		return "", nil, err
	}
	uids := make([]string, len(v.Clusters))
	for i, cl := range v.Clusters {
		uids[i] = cl.UID
	}
	v.Pending, err = approvals.PendingCounts(ctx, fb.pool, uids)
	return "clusters", v, err
}

func (fb *frameworkBench) bareCluster(ctx context.Context, r *http.Request, _ approvals.Actor) (string, any, error) {
	var v struct {
		Cluster  inventory.Cluster
		Versions []inventory.Version
		Requests []approvals.Request
	}
	uid := strings.TrimPrefix(r.URL.Path, "/clusters/")
	err := pgx.BeginTxFunc(ctx, fb.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if v.Cluster, err = inventory.ClusterGet(ctx, tx, uid); err != nil {
			return err
		}
		if v.Versions, err = inventory.VersionList(ctx, tx, uid); err != nil {
			return err
		}
		v.Requests, err = approvals.ListForCluster(ctx, tx, uid, approvals.Page{Limit: clusterRequestsShown + 1})
		return err
	})
	return "cluster", v, err
}

// bareRequest makes renderRequest's calls: the request, what it takes,
// its history, and for a viewer who may approve the cached cluster and the
// stored dry run; then the timeline, submission and events.
func (fb *frameworkBench) bareRequest(ctx context.Context, r *http.Request, viewer approvals.Actor) (string, any, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/requests/"), 10, 64)
	if err != nil {
		return "", nil, err
	}
	var v struct {
		Details    approvals.Details
		Takes      approvals.Requirements
		History    templates.RequestHistoryView
		Live       string
		Violations approvals.Violations
		Timeline   []templates.RequestTimelineRow
		Submission *templates.RequestSubmissionView
		Events     []templates.ClusterEventRow
	}
	if v.Details, err = approvals.Detail(ctx, fb.pool, id); err != nil {
		return "", nil, err
	}
	v.Takes, err = approvals.WhatItTakes(ctx, fb.pool, id, viewer)
	if err != nil && !errors.Is(err, approvals.ErrNoPolicy) {
		return "", nil, err
	}
	if v.History, err = requestHistoryView(ctx, fb.pool, v.Details, viewer); err != nil {
		return "", nil, err
	}
	req := v.Details.Request
	if v.Takes.CanApprove() {
		// As the page: the cached cluster and the stored dry run.
		live, err := inventory.ClusterGet(ctx, fb.pool, req.ClusterUID)
		if err != nil {
			return "", nil, err
		}
		v.Live = fmt.Sprintf("version %d", live.ResourceVersion)
		if req.Revision.ProposedSpec != nil {
			d, err := approvals.DryRunGet(ctx, fb.pool, req.ID, req.Revision.Number)
			if err != nil && !errors.Is(err, approvals.ErrNoDryRun) {
				return "", nil, err
			}
			v.Violations = d.Violations
		}
	}
	if v.Timeline, err = fb.server.requestTimeline(ctx, id); err != nil {
		return "", nil, err
	}
	if v.Submission, err = fb.server.requestSubmission(ctx, req); err != nil {
		return "", nil, err
	}
	v.Events, err = fb.server.requestEvents(ctx, req)
	return "request", v, err
}

func (fb *frameworkBench) bareApprovals(ctx context.Context, _ *http.Request, viewer approvals.Actor) (string, any, error) {
	list, err := approvals.ListAwaiting(ctx, fb.pool, viewer, approvals.Page{Limit: approvalsQueueShown + 1})
	return "approvals", list, err
}

func (fb *frameworkBench) bareAudit(ctx context.Context, _ *http.Request, _ approvals.Actor) (string, any, error) {
	var v struct {
		Page   audit.Page
		Head   audit.Head
		People map[int64]auth.Person
		Form   templates.AuditForm
		Broken *templates.AuditBroken
	}
	var err error
	if v.Page, err = audit.List(ctx, fb.pool, audit.Filter{}, audit.PageRequest{}); err != nil {
		return "", nil, err
	}
	if v.Head, err = audit.HeadGet(ctx, fb.pool); err != nil {
		return "", nil, err
	}
	if v.People, err = auth.PeopleByID(ctx, fb.pool, auditPeopleIDs(v.Page.Entries)); err != nil {
		return "", nil, err
	}
	if err := fb.server.auditSuggestions(ctx, &v.Form); err != nil {
		return "", nil, err
	}
	v.Broken = fb.server.auditBroken(ctx)
	return "audit", v, nil
}

// bareTemplates render the same rows and fields as the real pages, in a
// plain layout.
var bareTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"when": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(`
{{define "top"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Clusterdesk</title>
<link rel="stylesheet" href="/static/app.css"></head><body><header><nav><a href="/">Clusterdesk</a>
<a href="/clusters">Clusters</a> <a href="/requests">Requests</a> <span>{{.Viewer}}</span></nav></header><main>{{end}}
{{define "bottom"}}</main></body></html>{{end}}
{{define "rows"}}<table><thead><tr><th>Request</th><th>Kind</th><th>Cluster</th><th>State</th><th>By</th><th>Filed</th></tr></thead><tbody>
{{range .}}<tr><td><a href="/requests/{{.ID}}">#{{.ID}}</a></td><td>{{.Kind}}</td><td><a href="/clusters/{{.ClusterUID}}">{{.ClusterName}}</a></td>
<td>{{.State}}</td><td>{{.Requester.Name}}</td><td><time datetime="{{when .CreatedAt}}">{{when .CreatedAt}}</time></td></tr>{{end}}</tbody></table>{{end}}
{{define "home"}}{{template "top" .}}{{with .Data}}<h1>Home</h1>
<p>{{.Counts.Pending}} pending, {{.Counts.Applying}} applying, {{.Counts.Done}} done, {{.Counts.Failed}} failed</p>
<h2>Your requests</h2>{{template "rows" .Mine}}<h2>Awaiting you</h2>{{template "rows" .Awaiting}}<h2>Recent</h2>{{template "rows" .Recent}}{{end}}{{template "bottom"}}{{end}}
{{define "clusters"}}{{template "top" .}}{{with .Data}}<h1>Clusters</h1><form><select name="environment">{{range .Environments}}<option>{{.}}</option>{{end}}</select></form>
<table><tbody>{{$pending := .Pending}}{{range .Clusters}}<tr><td><a href="/clusters/{{.UID}}">{{.Name}}</a></td><td>{{.State}}</td><td>{{.Environment}}</td>
<td>{{.Version}}</td><td>{{.ServerCount}}</td><td>{{index $pending .UID}}</td><td>{{when .SyncedAt}}</td></tr>{{end}}</tbody></table>{{end}}{{template "bottom"}}{{end}}
{{define "cluster"}}{{template "top" .}}{{with .Data}}<h1>{{.Cluster.Name}}</h1><p>{{.Cluster.State}} · version {{.Cluster.ResourceVersion}}</p>
<pre>{{printf "%+v" .Cluster.Spec}}</pre><h2>Versions</h2><ol>{{range .Versions}}<li>{{.ResourceVersion}} {{.Source}} {{when .FirstSeenAt}}</li>{{end}}</ol>
<h2>Requests</h2>{{template "rows" .Requests}}{{end}}{{template "bottom"}}{{end}}
{{define "request"}}{{template "top" .}}{{with .Data}}{{with .Details.Request}}<h1>Request #{{.ID}}: {{.Kind}} {{.ClusterName}}</h1>
<p>{{.State}} · {{.Requester.Name}} · {{.Revision.Reason}}</p><pre>{{printf "%+v" .Revision.Diff}}</pre>{{end}}
<p>{{printf "%+v" .Takes}}</p><p>{{.Live}} {{printf "%v" .Violations}}</p><div>{{printf "%+v" .History}}</div>
<ol>{{range .Details.Decisions}}<li>{{printf "%+v" .}}</li>{{end}}</ol>
<ol>{{range .Timeline}}<li>{{printf "%+v" .}}</li>{{end}}</ol><div>{{printf "%+v" .Submission}}</div>
<ol>{{range .Events}}<li>{{printf "%+v" .}}</li>{{end}}</ol>{{end}}{{template "bottom"}}{{end}}
{{define "approvals"}}{{template "top" .}}<h1>Awaiting your approval</h1>{{template "rows" .Data}}{{template "bottom"}}{{end}}
{{define "audit"}}{{template "top" .}}{{with .Data}}<h1>Audit log</h1><p>{{.Head.Events}} events, head {{.Head.Hash}}</p>
<datalist>{{printf "%+v" .Form}}</datalist>{{if .Broken}}<p>{{printf "%+v" .Broken}}</p>{{end}}
<ol>{{$people := .People}}{{range .Page.Entries}}<li data-seq="{{.Seq}}"><time>{{when .At}}</time> {{.Action}} {{.Actor.Name}} {{.Subject.Type}} {{.Subject.ID}}
<pre>{{printf "%s" .Data}}</pre><code>{{.Hash}}</code> <code>{{.PrevHash}}</code></li>{{end}}</ol>{{end}}{{template "bottom"}}{{end}}
`))
