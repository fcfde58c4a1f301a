package metrics_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/metrics"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// exercised is a registry on a fresh database in which every metric has
// been touched once, so that every family shows up in Gather (a vector
// without a child is not exported).
func exercised(t *testing.T) (*metrics.Metrics, *pgxpool.Pool) {
	t.Helper()
	pool := testdb.New(t)
	m := metrics.New(pool, metrics.Options{Version: "test"})
	m.Request("/requests/:id", http.MethodGet, http.StatusOK, 20*time.Millisecond)
	m.InFlight(1)
	m.InFlight(-1)
	m.Stream(1)
	m.CallDone(cloudapi.OpGetCluster, http.StatusOK, nil, 30*time.Millisecond)
	m.TokenFetched(nil, 10*time.Millisecond)
	m.Submitted("accepted")
	m.JobDone("submit", "completed", time.Second)
	m.InventorySynced(time.Now())
	m.AuditVerified(time.Now(), true)
	_, err := pool.Exec(t.Context(), `INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at)
		VALUES ('{}', 'submit', 25, 'default', 'available', now() - interval '90 seconds')`)
	require.NoError(t, err)
	return m, pool
}

// gather collects every family, failing on a collector's error.
func gather(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	out := map[string]*dto.MetricFamily{}
	for _, f := range families {
		out[f.GetName()] = f
	}
	return out
}

// metricNames are the names a query may use: each family's, and a
// histogram's _bucket, _sum and _count series.
func metricNames(t *testing.T) map[string]bool {
	t.Helper()
	m, _ := exercised(t)
	names := map[string]bool{}
	for name, f := range gather(t, m) {
		names[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
		}
	}
	return names
}

func TestEveryMetricFollowsTheConventions(t *testing.T) {
	t.Parallel()
	m, _ := exercised(t)
	families := gather(t, m)
	var own []string
	for name, f := range families {
		if !strings.HasPrefix(name, "clusterdesk_") {
			continue
		}
		own = append(own, name)
		require.NotEmpty(t, f.GetHelp(), name)
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			require.True(t, strings.HasSuffix(name, "_total"), "a counter ends in _total: %s", name)
		case dto.MetricType_HISTOGRAM:
			require.True(t, strings.HasSuffix(name, "_seconds"), "a histogram of durations ends in _seconds: %s", name)
		default:
			require.False(t, strings.HasSuffix(name, "_total"), "only counters end in _total: %s", name)
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				require.NotContains(t, []string{"request_id", "user", "username", "cluster", "cluster_uid", "path", "url"}, l.GetName(), name)
			}
		}
	}
	sort.Strings(own)
	require.Equal(t, []string{
		"clusterdesk_audit_last_verification_ok",
		"clusterdesk_audit_last_verification_timestamp_seconds",
		"clusterdesk_build_info",
		"clusterdesk_change_requests",
		"clusterdesk_cloud_call_duration_seconds",
		"clusterdesk_cloud_token_fetch_duration_seconds",
		"clusterdesk_cloud_token_fetches_total",
		"clusterdesk_db_pool_acquire_duration_seconds_total",
		"clusterdesk_db_pool_acquired_connections",
		"clusterdesk_db_pool_acquires_total",
		"clusterdesk_db_pool_canceled_acquires_total",
		"clusterdesk_db_pool_connections",
		"clusterdesk_db_pool_constructing_connections",
		"clusterdesk_db_pool_empty_acquires_total",
		"clusterdesk_db_pool_idle_connections",
		"clusterdesk_db_pool_max_connections",
		"clusterdesk_db_pool_new_connections_total",
		"clusterdesk_http_request_duration_seconds",
		"clusterdesk_http_requests_in_flight",
		"clusterdesk_inventory_last_sync_timestamp_seconds",
		"clusterdesk_jobs_duration_seconds",
		"clusterdesk_jobs_worked_total",
		"clusterdesk_live_streams_open",
		"clusterdesk_river_jobs",
		"clusterdesk_river_oldest_available_job_age_seconds",
		"clusterdesk_submissions_total",
	}, own)
	require.Contains(t, families, "go_goroutines")
	require.Contains(t, families, "process_cpu_seconds_total")
}

// The queue is read from river_job at each scrape: a job waiting for a
// worker shows, with how long it has waited; states without jobs are 0.
func TestQueueDepthIsReadAtScrape(t *testing.T) {
	t.Parallel()
	m, _ := exercised(t)
	families := gather(t, m)
	got := map[string]float64{}
	for _, s := range families["clusterdesk_river_jobs"].GetMetric() {
		got[labelOf(s, "state")+"/"+labelOf(s, "kind")] = s.GetGauge().GetValue()
	}
	require.Equal(t, map[string]float64{"available/submit": 1, "pending/": 0, "retryable/": 0, "running/": 0, "scheduled/": 0}, got)
	oldest := families["clusterdesk_river_oldest_available_job_age_seconds"].GetMetric()
	require.Len(t, oldest, 1)
	require.Equal(t, "submit", labelOf(oldest[0], "kind"))
	require.GreaterOrEqual(t, oldest[0].GetGauge().GetValue(), 90.0)
}

// A timestamp gauge is absent until its first event: a zero would read as
// decades old and fire the staleness alerts of a process that simply has
// not synced yet.
func TestFreshnessIsAbsentBeforeTheFirstEvent(t *testing.T) {
	t.Parallel()
	m := metrics.New(testdb.New(t), metrics.Options{})
	families := gather(t, m)
	require.NotContains(t, families, "clusterdesk_inventory_last_sync_timestamp_seconds")
	require.NotContains(t, families, "clusterdesk_audit_last_verification_timestamp_seconds")
	require.NotContains(t, families, "clusterdesk_audit_last_verification_ok")
	m.AuditVerified(time.Now(), false)
	require.Equal(t, 0.0, gather(t, m)["clusterdesk_audit_last_verification_ok"].GetMetric()[0].GetGauge().GetValue())
}

// Labels take a fixed set of values whatever the program is handed: a
// request that no route took, a method a client made up, a status out of
// range, an operation or outcome nobody declared.
func TestLabelsAreBounded(t *testing.T) {
	t.Parallel()
	require.Equal(t, metrics.Unmatched, metrics.RouteLabel(""))
	require.Equal(t, "/requests/:id", metrics.RouteLabel("/requests/:id"))
	require.Equal(t, "other", metrics.MethodLabel("FROBNICATE"))
	require.Equal(t, "GET", metrics.MethodLabel("GET"))
	for status, class := range map[int]string{0: "unknown", 99: "unknown", 200: "2xx", 303: "3xx", 404: "4xx", 503: "5xx", 600: "unknown", 1234: "unknown"} {
		require.Equal(t, class, metrics.StatusClass(status), status)
	}
	require.Equal(t, "other", metrics.OperationLabel(cloudapi.Operation("dropDatabase")))
	require.Equal(t, "getCluster", metrics.OperationLabel(cloudapi.OpGetCluster))

	timeout := &net.OpError{Op: "read", Err: timeoutErr{}}
	for _, c := range []struct {
		status int
		err    error
		want   string
	}{
		{200, nil, "ok"},
		{204, nil, "ok"},
		{200, errors.New("read reply: unexpected EOF"), "network_error"},
		{404, errors.New("not found"), "not_found"},
		{409, errors.New("busy"), "busy"},
		{429, errors.New("slow down"), "rate_limited"},
		{401, errors.New("no"), "unauthorized"},
		{403, errors.New("no"), "unauthorized"},
		{400, errors.New("bad"), "rejected"},
		{502, errors.New("bad gateway"), "server_error"},
		{0, context.DeadlineExceeded, "timeout"},
		{0, timeout, "timeout"},
		{0, errors.New("connection refused"), "network_error"},
		{302, errors.New("redirect"), "network_error"},
	} {
		require.Equal(t, c.want, metrics.CallOutcome(c.status, c.err), "%d %v", c.status, c.err)
	}

	// Whatever a caller passes, the series stay the known ones.
	m := metrics.New(testdb.New(t), metrics.Options{})
	m.Request("", "FROBNICATE", 999, time.Millisecond)
	m.Submitted("made-up")
	m.CallDone(cloudapi.Operation("dropDatabase"), 0, errors.New("x"), time.Millisecond)
	families := gather(t, m)
	s := families["clusterdesk_http_request_duration_seconds"].GetMetric()
	require.Len(t, s, 1)
	require.Equal(t, map[string]string{"route": "unmatched", "method": "other", "status_class": "unknown"}, labelsOf(s[0]))
	var outcomes []string
	for _, s := range families["clusterdesk_submissions_total"].GetMetric() {
		outcomes = append(outcomes, labelOf(s, "outcome"))
	}
	require.ElementsMatch(t, []string{"accepted", "busy", "rate_limited", "rejected", "unknown", "reconciled", "other"}, outcomes)
	calls := families["clusterdesk_cloud_call_duration_seconds"].GetMetric()
	require.Len(t, calls, 1)
	require.Equal(t, map[string]string{"operation": "other", "outcome": "network_error"}, labelsOf(calls[0]))
}

// The handler serves the text format; a failing collector (here the
// database is gone) leaves the rest served.
func TestHandlerServesTheRestWhenTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	m, pool := exercised(t)
	pool.Close()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "clusterdesk_submissions_total{outcome=\"accepted\"} 1")
	require.NotContains(t, rec.Body.String(), "clusterdesk_change_requests{")
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
