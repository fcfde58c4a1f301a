package audit_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// The audit benchmarks (`make bench`; docs/performance.md).
//
//	PORTAL_BENCH_AUDIT_ROWS    events to seed (default 10,000,000)
//	PORTAL_BENCH_AUDIT_URL     a database to seed once and keep between runs
//	                           (default: a throwaway test database)
//	PORTAL_BENCH_AUDIT_REPORT  file to write the timings and query plans to

var (
	benchOnce sync.Once
	benchPool *pgxpool.Pool
	benchErr  error
	benchRows int64
)

// benchLog returns a pool on a log seeded with benchRows events: 200
// people, 50 clusters, 11 kinds of event, two years of history.
func benchLog(b *testing.B) *pgxpool.Pool {
	b.Helper()
	benchOnce.Do(func() {
		benchRows = 10_000_000
		if v := os.Getenv("PORTAL_BENCH_AUDIT_ROWS"); v != "" {
			if benchRows, benchErr = strconv.ParseInt(v, 10, 64); benchErr != nil {
				return
			}
		}
		url := os.Getenv("PORTAL_BENCH_AUDIT_URL")
		if url == "" {
			url = testdb.NewURL(b)
		}
		ctx := context.Background()
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			benchErr = err
			return
		}
		cfg.MaxConns = 40
		if benchPool, benchErr = pgxpool.NewWithConfig(ctx, cfg); benchErr != nil {
			return
		}
		benchErr = seedBenchLog(ctx, b, benchPool, benchRows)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPool
}

func seedBenchLog(ctx context.Context, b *testing.B, pool *pgxpool.Pool, rows int64) error {
	m, err := database.NewMigrator(pool, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Up(ctx); err != nil {
		return err
	}
	var have int64
	if err := pool.QueryRow(ctx, "SELECT seq FROM audit_chain_head").Scan(&have); err != nil {
		return err
	}
	if have == rows {
		b.Logf("audit log already seeded with %d events", rows)
		return nil
	}
	start := time.Now()
	b.Logf("seeding %d audit events…", rows)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// Load without the secondary indexes, then build them from the
	// migration's own definitions: many times faster than row by row.
	var defs []string
	if err := conn.QueryRow(ctx, `
		SELECT coalesce(array_agg(pg_get_indexdef(indexrelid)), '{}') FROM pg_index
		WHERE indrelid = 'audit_log'::regclass AND NOT indisprimary`).Scan(&defs); err != nil {
		return err
	}
	statements := []string{
		"SET maintenance_work_mem = '1GB'",
		"SET max_parallel_maintenance_workers = 2",
		// A superuser's way past the append-only triggers, for seeding.
		"SET session_replication_role = replica",
		"TRUNCATE audit_log, audit_anchor",
		"SET session_replication_role = origin",
	}
	for _, def := range defs {
		name := strings.Fields(strings.TrimPrefix(def, "CREATE INDEX "))[0]
		statements = append(statements, "DROP INDEX "+name)
	}
	// Actions, weighted the way a portal sees them: requests move through
	// several states, most submissions succeed, people sign in daily.
	statements = append(statements, fmt.Sprintf(`
		INSERT INTO audit_log (seq, at, actor_type, actor_id, actor_name, action, subject_type, subject_id,
		                       data, origin_ip, origin_request_id, prev_hash, hash)
		SELECT g, at, kind, actor, CASE kind WHEN 'system' THEN 'Clusterdesk worker' ELSE 'Person ' || actor END,
		       action, subject_type, subject_id, data,
		       CASE kind WHEN 'system' THEN '' ELSE '10.1.' || (h %% 250) || '.' || (h %% 199) END,
		       CASE kind WHEN 'system' THEN '' ELSE md5(g::text) END,
		       sha256(int8send(g - 1)), sha256(int8send(g))
		FROM (
			SELECT g, h, action,
			       timestamptz '2024-01-01 00:00:00+00' + (g - 1) * (interval '730 days' / %[1]d) AS at,
			       CASE WHEN action LIKE 'submission.%%' OR action = 'cluster.drift_detected' THEN 'system' ELSE 'user' END AS kind,
			       CASE WHEN action LIKE 'submission.%%' OR action = 'cluster.drift_detected' THEN 'worker'
			            ELSE (1 + h %% 200)::text END AS actor,
			       CASE WHEN action LIKE 'auth.%%' THEN 'user' WHEN action = 'cluster.drift_detected' THEN 'cluster'
			            ELSE 'request' END AS subject_type,
			       CASE WHEN action LIKE 'auth.%%' THEN (1 + h %% 200)::text
			            WHEN action = 'cluster.drift_detected' THEN 'cl-' || lpad((h %% 50)::text, 2, '0')
			            ELSE (g / 8)::text END AS subject_id,
			       CASE WHEN action LIKE 'auth.%%' THEN jsonb_build_object('subject', 'sub-' || (1 + h %% 200))
			            ELSE jsonb_build_object(
			                'cluster_name', 'cl-' || lpad((h %% 50)::text, 2, '0'),
			                'environment', (ARRAY['production', 'staging', 'development'])[1 + h %% 3],
			                'revision', 1 + h %% 4,
			                'diff_sha256', md5(h::text) || md5(g::text),
			                'comment', (ARRAY['scale brokers for the quarter end', 'routine version upgrade',
			                                  'deep storage moves to the new bucket', 'fewer historicals at night',
			                                  'rollback after the failed canary'])[1 + h %% 5]) END AS data
			FROM (
				SELECT g, abs(hashint8(g)) AS h,
				       (ARRAY['request.created', 'request.updated', 'request.approved', 'request.approved',
				              'request.rejected', 'request.cancelled', 'submission.started', 'submission.succeeded',
				              'submission.failed', 'auth.signin', 'auth.signin', 'auth.signout',
				              'cluster.drift_detected'])[1 + abs(hashint8(g * 7)) %% 13] AS action
				FROM generate_series(1, %[1]d) g
			) r
		) s`, rows))
	statements = append(statements, defs...)
	statements = append(statements,
		fmt.Sprintf("UPDATE audit_chain_head SET seq = %d, at = now(), hash = sha256(int8send(%d::bigint))", rows, rows),
		"VACUUM (ANALYZE) audit_log",
	)
	for _, sql := range statements {
		step := time.Now()
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", firstLine(sql), err)
		}
		b.Logf("  %6.1fs  %s", time.Since(step).Seconds(), firstLine(sql))
	}
	b.Logf("seeded %d events in %s", rows, time.Since(start).Round(time.Second))
	return nil
}

func firstLine(sql string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(sql), "\n")
	return line
}

// pageCase is one page the benchmark reads.
type pageCase struct {
	name   string
	filter audit.Filter
}

func pageCases() []pageCase {
	month := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	return []pageCase{
		{"all", audit.Filter{}},
		{"action", audit.Filter{Actions: []audit.Action{audit.RequestRejected}}},
		{"actions", audit.Filter{Actions: []audit.Action{audit.RequestRejected, audit.RequestCancelled}}},
		{"actor", audit.Filter{Actors: []string{"17"}}},
		// A person filter that matched part of three people's names.
		{"people", audit.Filter{Actors: []string{"17", "18", "19"}}},
		{"cluster", audit.Filter{SubjectType: audit.SubjectCluster, SubjectID: "cl-17"}},
		{"cluster-name", audit.Filter{Cluster: "cl-17"}},
		{"request", audit.Filter{SubjectType: audit.SubjectRequest, SubjectID: "12345"}},
		{"text", audit.Filter{Text: "cl-17"}},
		// One diff, by its hash (half of event 500's diff_sha256): the
		// trigram index's case, and its weak spot (hex is all common
		// trigrams).
		{"text-diff", audit.Filter{Text: "cee631121c2ec9232f3a2f028ad5c89b"}},
		{"month", audit.Filter{From: month, To: month.AddDate(0, 1, 0)}},
		{"combined", audit.Filter{Actors: []string{"17"}, Actions: []audit.Action{audit.RequestApproved}, Text: "production"}},
	}
}

// deepest is the cursor of a filter's last page: the page of its oldest
// events, reached the way the UI reaches it (?before=SEQ).
func deepest(b *testing.B, pool *pgxpool.Pool, f audit.Filter) audit.PageRequest {
	b.Helper()
	oldest, err := audit.List(context.Background(), pool, f, audit.PageRequest{Oldest: true})
	if err != nil {
		b.Fatal(err)
	}
	if len(oldest.Entries) == 0 {
		return audit.PageRequest{}
	}
	return audit.PageRequest{Before: oldest.Entries[0].Seq + 1}
}

// BenchmarkAuditPage reads the first and the deepest page of the log under
// each filter (B3 in the design anchors).
func BenchmarkAuditPage(b *testing.B) {
	pool := benchLog(b)
	ctx := context.Background()
	for _, c := range pageCases() {
		for _, depth := range []string{"first", "deepest"} {
			req := audit.PageRequest{}
			if depth == "deepest" {
				req = deepest(b, pool, c.filter)
			}
			b.Run(c.name+"/"+depth, func(b *testing.B) {
				for b.Loop() {
					if _, err := audit.List(ctx, pool, c.filter, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAuditPageOffset is the control: OFFSET to the same depth as the
// deepest keyset page. Reported, never shipped.
func BenchmarkAuditPageOffset(b *testing.B) {
	pool := benchLog(b)
	ctx := context.Background()
	for _, c := range pageCases()[:2] {
		sql, args := offsetQuery(b, pool, c.filter)
		b.Run(c.name+"/deepest", func(b *testing.B) {
			for b.Loop() {
				if _, err := pool.Exec(ctx, sql, args...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// offsetQuery is the OFFSET query for the deepest page of f.
func offsetQuery(b *testing.B, pool *pgxpool.Pool, f audit.Filter) (string, []any) {
	b.Helper()
	where, args := audit.WhereForBench(f)
	var n int64
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_log WHERE true"+where, args...).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("SELECT * FROM audit_log WHERE true%s ORDER BY seq DESC OFFSET %d LIMIT %d",
		where, max(0, n-audit.DefaultPageSize), audit.DefaultPageSize), args
}

// BenchmarkAuditPageReport measures every page interleaved (A/B/A/B, 210
// passes; once, whatever -benchtime says), reports p50 and p99 and the
// deepest/first ratios, captures EXPLAIN (ANALYZE, BUFFERS) of each query,
// and times the OFFSET control. With PORTAL_BENCH_AUDIT_REPORT set, it
// writes all of it to that file (docs/performance.md quotes it).
func BenchmarkAuditPageReport(b *testing.B) {
	pool := benchLog(b)
	ctx := context.Background()
	type measured struct {
		name    string
		run     func() error
		explain func() (string, error)
		samples []time.Duration
	}
	var all []*measured
	for _, c := range pageCases() {
		for _, depth := range []string{"first", "deepest"} {
			req := audit.PageRequest{}
			if depth == "deepest" {
				req = deepest(b, pool, c.filter)
			}
			all = append(all, &measured{
				name:    c.name + "/" + depth,
				run:     func() error { _, err := audit.List(ctx, pool, c.filter, req); return err },
				explain: func() (string, error) { return audit.ExplainForBench(ctx, pool, c.filter, req) },
			})
		}
	}
	offsetSQL, offsetArgs := offsetQuery(b, pool, audit.Filter{})
	offset := &measured{
		name: "all/deepest (OFFSET control)",
		run:  func() error { _, err := pool.Exec(ctx, offsetSQL, offsetArgs...); return err },
		explain: func() (string, error) {
			return explainSQL(ctx, pool, offsetSQL, offsetArgs)
		},
	}

	// One measurement, whatever b.N: it takes long enough on its own. Warm
	// up, then interleave: every page once per pass, 7 rounds of 30 passes.
	for _, m := range all {
		for range 5 {
			if err := m.run(); err != nil {
				b.Fatal(err)
			}
		}
	}
	for range 7 * 30 {
		for _, m := range all {
			t0 := time.Now()
			if err := m.run(); err != nil {
				b.Fatal(err)
			}
			m.samples = append(m.samples, time.Since(t0))
		}
	}
	// The plans, warm: each query's second run.
	plans := map[*measured]string{}
	for _, m := range all {
		for range 2 {
			plan, err := m.explain()
			if err != nil {
				b.Fatal(err)
			}
			plans[m] = plan
		}
	}
	// The OFFSET control last: it reads the whole table and would evict
	// what the pages above keep warm.
	for range 5 {
		t0 := time.Now()
		if err := offset.run(); err != nil {
			b.Fatal(err)
		}
		offset.samples = append(offset.samples, time.Since(t0))
	}
	plan, err := offset.explain()
	if err != nil {
		b.Fatal(err)
	}
	plans[offset] = plan

	var report strings.Builder
	fmt.Fprintf(&report, "Audit log page timings: %d events, %s, GOMAXPROCS %d, %s.\n", benchRows, runtime.Version(),
		runtime.GOMAXPROCS(0), serverVersion(ctx, pool))
	fmt.Fprintf(&report, "Round trip through pgx over TCP on 127.0.0.1, warm, %d samples a page, pages interleaved; "+
		"the OFFSET control %d times, after them. Server time and buffers: EXPLAIN (ANALYZE, BUFFERS), second run.\n\n",
		len(all[0].samples), len(offset.samples))
	fmt.Fprintln(&report, "| page | p50 | p99 | deepest/first p50 | deepest/first p99 | server | buffers |")
	fmt.Fprintln(&report, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	var firstP50, firstP99 time.Duration
	for i, m := range append(all, offset) {
		p50, p99 := percentile(m.samples, 50), percentile(m.samples, 99)
		ratio50, ratio99 := "", ""
		switch {
		case m == offset:
			ratio50 = fmt.Sprintf("%.0f× all/first", float64(p50)/float64(percentile(all[0].samples, 50)))
			ratio99 = fmt.Sprintf("%.0f× all/first", float64(p99)/float64(percentile(all[0].samples, 99)))
		case i%2 == 0:
			firstP50, firstP99 = p50, p99
		default:
			ratio50 = fmt.Sprintf("%.2f×", float64(p50)/float64(firstP50))
			ratio99 = fmt.Sprintf("%.2f×", float64(p99)/float64(firstP99))
			if m.name == "all/deepest" {
				b.ReportMetric(float64(p50)/float64(firstP50), "deepest/first-p50")
				b.ReportMetric(float64(p99)/float64(firstP99), "deepest/first-p99")
			}
		}
		server, buffers := planSummary(plans[m])
		fmt.Fprintf(&report, "| %s | %s | %s | %s | %s | %s | %s |\n", m.name, ms(p50), ms(p99), ratio50, ratio99, server, buffers)
	}
	fmt.Fprintln(&report, "\nQuery plans:")
	for _, m := range append(all, offset) {
		fmt.Fprintf(&report, "\n%s\n\n```\n%s\n```\n", m.name, plans[m])
	}
	b.Log("\n" + report.String())
	if path := os.Getenv("PORTAL_BENCH_AUDIT_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

var (
	executionTime = regexp.MustCompile(`Execution Time: ([0-9.]+) ms`)
	buffersLine   = regexp.MustCompile(`Buffers: shared(?: hit=([0-9]+))?(?: read=([0-9]+))?`)
)

// planSummary is a plan's execution time and the shared buffers its top
// node touched.
func planSummary(plan string) (string, string) {
	server, buffers := "", ""
	if m := executionTime.FindStringSubmatch(plan); m != nil {
		server = m[1] + " ms"
	}
	if m := buffersLine.FindStringSubmatch(plan); m != nil {
		hit, _ := strconv.Atoi(m[1])
		read, _ := strconv.Atoi(m[2])
		buffers = strconv.Itoa(hit + read)
	}
	return server, buffers
}

func explainSQL(ctx context.Context, pool *pgxpool.Pool, sql string, args []any) (string, error) {
	rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+sql, args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

func serverVersion(ctx context.Context, pool *pgxpool.Pool) string {
	var v string
	_ = pool.QueryRow(ctx, "SELECT 'PostgreSQL ' || current_setting('server_version')").Scan(&v)
	return v
}

func percentile(samples []time.Duration, p int) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// BenchmarkAuditAppend is the cost of the hash chain in the request path
// (B7): one transaction per event, one appender and 20 at once. Measured
// in one run against a plain INSERT of the same row into a table without a
// chain ("plain"):
//
//   - "unchained": audit.Append, the event written unchained, while a
//     chainer (audit.Chain every audit.ChainInterval, as the worker runs
//     it) chains behind it;
//   - "in-tx": the append as it was until issue 19, the chain head locked
//     from the append to the commit (AppendInTransactionForBench);
//   - "advisory": the other way to serialise, pg_advisory_xact_lock.
//
// After the unchained runs it reports how many events were left for the
// chainer and how fast it chains them; every chain is verified at the end.
func BenchmarkAuditAppend(b *testing.B) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testdb.NewURL(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 30
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	for _, sql := range []string{
		// The same table with the same indexes, minus the chain.
		"CREATE TABLE audit_plain (LIKE audit_log INCLUDING ALL)",
		"ALTER TABLE audit_plain DROP CONSTRAINT IF EXISTS audit_log_chained_or_pending",
		"ALTER TABLE audit_plain ALTER seq ADD GENERATED ALWAYS AS IDENTITY",
		"CREATE TABLE audit_advisory (LIKE audit_log INCLUDING ALL)",
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	ev := audit.Event{
		Actor: audit.User("17", "Person 17"), Action: audit.RequestApproved,
		Subject: audit.Subject{Type: audit.SubjectRequest, ID: "12345"}, Origin: audit.Origin{IP: "10.1.2.3", RequestID: "r"},
		Data: map[string]any{"cluster": "cl-17", "revision": 2, "diff_sha256": strings.Repeat("ab", 32), "comment": "routine version upgrade"},
	}
	variants := []struct {
		name    string
		chainer bool
		tx      func(tx pgx.Tx) error
	}{
		{"plain", false, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `
				INSERT INTO audit_plain (at, actor_type, actor_id, actor_name, action, subject_type, subject_id,
				                         data, origin_ip, origin_request_id, prev_hash, hash)
				VALUES (clock_timestamp(), 'user', '17', 'Person 17', 'request.approved', 'request', '12345',
				        $1::jsonb, '10.1.2.3', 'r', sha256('a'), sha256('b'))`, ev.Data)
			return err
		}},
		{"unchained", true, func(tx pgx.Tx) error { _, err := audit.Append(ctx, tx, ev); return err }},
		{"in-tx", false, func(tx pgx.Tx) error { return audit.AppendInTransactionForBench(ctx, tx, ev) }},
		{"advisory", false, func(tx pgx.Tx) error { return audit.AppendAdvisoryForBench(ctx, tx, ev) }},
	}
	perOp := map[string]float64{}
	var backlog, drained int64
	var drainTook time.Duration
	for _, v := range variants {
		run := func(b *testing.B, body func(b *testing.B)) {
			stop := func() {}
			if v.chainer {
				stop = chainBehind(ctx, pool)
			}
			body(b)
			stop()
			if v.chainer {
				if err := pool.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE seq >= $1", audit.PendingBase).Scan(&backlog); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				n, err := audit.ChainAll(ctx, pool)
				if err != nil {
					b.Fatal(err)
				}
				drained, drainTook = n, time.Since(start)
			}
		}
		b.Run(v.name+"/1", func(b *testing.B) {
			run(b, func(b *testing.B) {
				for b.Loop() {
					if err := pgx.BeginFunc(ctx, pool, v.tx); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		b.Run(v.name+"/20", func(b *testing.B) {
			run(b, func(b *testing.B) {
				b.SetParallelism(max(1, 20/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := pgx.BeginFunc(ctx, pool, v.tx); err != nil {
							b.Error(err)
							return
						}
					}
				})
				perOp[v.name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			})
		})
	}
	r, err := audit.Verify(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	if !r.OK {
		b.Fatalf("the chain forked or broke under concurrent appends: %s", r)
	}
	if perOp["plain"] > 0 {
		b.ReportMetric(perOp["unchained"]/perOp["plain"], "unchained/plain")
		b.ReportMetric(perOp["in-tx"]/perOp["plain"], "in-tx/plain")
		b.ReportMetric(perOp["advisory"]/perOp["plain"], "advisory/plain")
		b.Logf("per append at 20 appenders: plain %.0f µs, unchained %.0f µs (%.2f×), in-tx %.0f µs (%.2f×), advisory lock %.0f µs (%.2f×); "+
			"the chainer had %d events left after the last unchained run and chained them at %.0f events/s; %d chained events verify",
			perOp["plain"]/1e3, perOp["unchained"]/1e3, perOp["unchained"]/perOp["plain"],
			perOp["in-tx"]/1e3, perOp["in-tx"]/perOp["plain"],
			perOp["advisory"]/1e3, perOp["advisory"]/perOp["plain"],
			backlog, float64(drained)/drainTook.Seconds(), r.Events)
	}
}

// chainBehind runs a chainer as the worker does until the returned
// function is called.
func chainBehind(ctx context.Context, pool *pgxpool.Pool) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		audit.ChainEvery(ctx, pool, audit.ChainInterval, nil)
	}()
	return func() { cancel(); <-done }
}

// BenchmarkAuditVerify is the cost of walking the chain, which the worker
// does every PORTAL_AUDIT_VERIFY_INTERVAL: a real chain of
// PORTAL_BENCH_AUDIT_VERIFY_ROWS events (default 200,000), hashed in Go and
// loaded with COPY, then verified. It reports events per second.
func BenchmarkAuditVerify(b *testing.B) {
	ctx := context.Background()
	rows := int64(200_000)
	if v := os.Getenv("PORTAL_BENCH_AUDIT_VERIFY_ROWS"); v != "" {
		var err error
		if rows, err = strconv.ParseInt(v, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	pool := testdb.New(b)
	entries := audit.ChainForBench(rows, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := audit.LoadForBench(ctx, pool, entries); err != nil {
		b.Fatal(err)
	}
	entries = nil
	for b.Loop() {
		r, err := audit.Verify(ctx, pool)
		if err != nil {
			b.Fatal(err)
		}
		if !r.OK || r.Events != rows {
			b.Fatalf("the seeded chain does not verify: %s", r)
		}
	}
	perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(rows)
	b.ReportMetric(1e9/perEvent, "events/s")
	b.ReportMetric(perEvent*10_000_000/1e9, "s/10M-events")
}
