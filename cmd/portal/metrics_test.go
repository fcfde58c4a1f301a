package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// TestMetricsAfterAJourney runs the real program, files a start of a
// stopped cluster as alice over HTTP (a cookie jar, a real CSRF token),
// has carol approve it, lets the worker send it to the simulator and
// follow it until it has converged, then scrapes /metrics from the metrics
// listener and finds every metric of internal/metrics with values that
// follow from the journey. The public listener does not serve /metrics.
func TestMetricsAfterAJourney(t *testing.T) {
	t.Parallel()
	vars, simulator := testEnvSim(t)
	vars["PORTAL_TRACK_INTERVAL"] = "50ms"
	base, metricsURL := startWithMetrics(t, vars)
	require.NotEqual(t, strings.TrimPrefix(base, "http://"), strings.TrimPrefix(strings.TrimSuffix(metricsURL, "/metrics"), "http://"))

	pool, err := database.Open(t.Context(), vars["PORTAL_DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	var stopped inventory.Cluster
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		list, err := inventory.ClusterByName(t.Context(), pool, "clickstream-dev")
		require.NoError(c, err)
		require.Len(c, list, 1)
		stopped = list[0]
	}, 30*time.Second, 100*time.Millisecond, "the worker's first sync copies the demo clusters")

	// alice files a start from the cluster's form.
	alice := signedIn(t, base, "/clusters/"+stopped.UID+"/requests/new?kind=start", "alice")
	resp := alice.post(t, "/clusters/"+stopped.UID+"/requests", url.Values{"kind": {"start"}, "reason": {"metrics journey"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	requestPath := resp.Header.Get("Location")
	require.Regexp(t, `^/requests/[0-9]+$`, requestPath)
	id, err := strconv.ParseInt(strings.TrimPrefix(requestPath, "/requests/"), 10, 64)
	require.NoError(t, err)

	// Her request page has a live stream: counted as open while it is.
	stream := alice.stream(t, requestPath+"/events")
	require.Eventually(t, func() bool {
		return value(scrape(t, metricsURL), "clusterdesk_live_streams_open", nil) == 1
	}, 10*time.Second, 20*time.Millisecond, "the open stream is counted")
	stream.Close()

	// carol approves it from its page.
	carol := signedIn(t, base, requestPath, "carol")
	resp = carol.post(t, requestPath+"/approve", url.Values{"revision": {"1"}, "comment": {"fine"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Eventually(t, func() bool {
		r, err := approvals.Get(t.Context(), pool, id)
		require.NoError(t, err)
		require.NotEqual(t, approvals.StateFailed, r.State)
		return r.State == approvals.StateSucceeded
	}, 40*time.Second, 20*time.Millisecond, "the start converges")
	page := alice.get(t, requestPath)
	require.Equal(t, http.StatusOK, page.StatusCode)

	// A path no route takes: its label is fixed, the path never a label.
	resp = alice.get(t, "/no-such-page-4711")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// The public listener has no /metrics.
	public, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	public.Body.Close()
	require.Equal(t, http.StatusNotFound, public.StatusCode)

	// The simulator's call that started the cluster, by operation.
	var sent cloudapi.Operation
	for _, c := range simulator.Calls() {
		if c.Mutated && c.ClusterID == stopped.UID {
			sent = c.Operation
		}
	}
	require.NotEmpty(t, sent, "the simulator saw the start")

	var families map[string]*dto.MetricFamily
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		families = scrape(t, metricsURL)
		// The stream's end and the audit verification at start are seen
		// by the next scrape at the latest.
		require.Equal(c, 0.0, value(families, "clusterdesk_live_streams_open", nil))
		require.Contains(c, families, "clusterdesk_audit_last_verification_timestamp_seconds")
		require.GreaterOrEqual(c, value(families, "clusterdesk_jobs_worked_total", map[string]string{"kind": "track", "outcome": "completed"}), 1.0)
	}, 20*time.Second, 50*time.Millisecond)

	// Web.
	require.GreaterOrEqual(t, histogramCount(families, "clusterdesk_http_request_duration_seconds",
		map[string]string{"route": "/requests/:id", "method": "GET", "status_class": "2xx"}), uint64(1))
	require.GreaterOrEqual(t, histogramCount(families, "clusterdesk_http_request_duration_seconds",
		map[string]string{"route": "/clusters/:uid/requests", "method": "POST", "status_class": "3xx"}), uint64(1))
	require.GreaterOrEqual(t, histogramCount(families, "clusterdesk_http_request_duration_seconds",
		map[string]string{"route": "/requests/:id/approve", "method": "POST", "status_class": "3xx"}), uint64(1))
	require.GreaterOrEqual(t, histogramCount(families, "clusterdesk_http_request_duration_seconds",
		map[string]string{"route": "unmatched", "method": "GET", "status_class": "4xx"}), uint64(1))
	for _, m := range families["clusterdesk_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			require.NotContains(t, l.GetValue(), "4711", "a path became a label")
			require.NotRegexp(t, `/[0-9]+`, l.GetValue(), "a request id became a label")
		}
	}
	require.Contains(t, families, "clusterdesk_http_requests_in_flight")

	// Cloud Manager: the sync's lists, the refreshes' reads and the call
	// that started the cluster, all answered; the token fetched.
	for _, op := range []cloudapi.Operation{cloudapi.OpListClusters, cloudapi.OpGetCluster, sent} {
		require.GreaterOrEqual(t, histogramCount(families, "clusterdesk_cloud_call_duration_seconds",
			map[string]string{"operation": string(op), "outcome": "ok"}), uint64(1), op)
	}
	require.GreaterOrEqual(t, value(families, "clusterdesk_cloud_token_fetches_total", map[string]string{"outcome": "ok"}), 1.0)
	require.Equal(t, 0.0, value(families, "clusterdesk_cloud_token_fetches_total", map[string]string{"outcome": "error"}))

	// Execution and the worker.
	require.Equal(t, 1.0, value(families, "clusterdesk_submissions_total", map[string]string{"outcome": "accepted"}))
	for _, o := range []string{"busy", "rate_limited", "rejected", "unknown", "reconciled"} {
		require.Equal(t, 0.0, value(families, "clusterdesk_submissions_total", map[string]string{"outcome": o}), o)
	}
	require.GreaterOrEqual(t, value(families, "clusterdesk_jobs_worked_total", map[string]string{"kind": "submit", "outcome": "completed"}), 1.0)
	require.GreaterOrEqual(t, value(families, "clusterdesk_jobs_worked_total", map[string]string{"kind": "inventory_sync", "outcome": "completed"}), 1.0)
	require.GreaterOrEqual(t, histogramCount(families, "clusterdesk_jobs_duration_seconds", map[string]string{"kind": "submit"}), uint64(1))
	states := map[string]bool{}
	for _, m := range families["clusterdesk_river_jobs"].GetMetric() {
		states[label(m, "state")] = true
		require.GreaterOrEqual(t, m.GetGauge().GetValue(), 0.0)
	}
	require.Equal(t, map[string]bool{"available": true, "pending": true, "retryable": true, "running": true, "scheduled": true}, states)
	require.Contains(t, families, "clusterdesk_river_oldest_available_job_age_seconds")

	// Freshness: the last sync and verification are recent, and in the past.
	now := float64(time.Now().UnixNano()) / 1e9
	for _, name := range []string{"clusterdesk_inventory_last_sync_timestamp_seconds", "clusterdesk_audit_last_verification_timestamp_seconds"} {
		age := now - value(families, name, nil)
		require.Greater(t, age, 0.0, name)
		require.Less(t, age, 120.0, name)
	}
	require.Equal(t, 1.0, value(families, "clusterdesk_audit_last_verification_ok", nil))

	// Requests by state: every state, the journey's request succeeded.
	require.Len(t, families["clusterdesk_change_requests"].GetMetric(), len(approvals.States()))
	require.Equal(t, 1.0, value(families, "clusterdesk_change_requests", map[string]string{"state": "succeeded"}))
	require.Equal(t, 0.0, value(families, "clusterdesk_change_requests", map[string]string{"state": "pending"}))

	// The database pool, the build, Go and the process.
	require.Greater(t, value(families, "clusterdesk_db_pool_max_connections", nil), 0.0)
	require.GreaterOrEqual(t, value(families, "clusterdesk_db_pool_connections", nil), 1.0)
	require.Greater(t, value(families, "clusterdesk_db_pool_acquires_total", nil), 0.0)
	require.Equal(t, 1.0, value(families, "clusterdesk_build_info", map[string]string{"version": version}))
	require.Greater(t, value(families, "go_goroutines", nil), 0.0)
	require.Greater(t, value(families, "process_start_time_seconds", nil), 0.0)

	// No secret, person or cluster reaches the metrics.
	resp, err = http.Get(metricsURL)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	for _, never := range []string{vars["PORTAL_CLOUD_CLIENT_SECRET"], vars["PORTAL_OIDC_CLIENT_SECRET"], vars["PORTAL_DATABASE_URL"],
		"alice", "carol", stopped.UID, stopped.Name} {
		require.NotContains(t, string(raw), never)
	}
}

// startWithMetrics runs `portal serve` and returns its public base URL and
// the URL of its metrics, once both listen.
func startWithMetrics(t *testing.T, vars map[string]string) (base, metricsURL string) {
	t.Helper()
	base, metricsURL, stop := startWith(t, []string{"serve"}, vars, io.Discard)
	t.Cleanup(func() { require.NoError(t, stop()) })
	require.NotEmpty(t, metricsURL, "the metrics listener starts before the web server")
	return base, metricsURL
}

// person is someone signed in to the portal, with their cookies and the
// CSRF token of the page they signed in on.
type person struct {
	base string
	hc   *http.Client
	csrf string
}

// signedIn signs username in through the development provider, starting
// at path, and keeps the CSRF token of the page it lands on.
func signedIn(t *testing.T, base, path, username string) *person {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == strings.TrimPrefix(base, "http://") && len(via) > 0 && via[0].Method == http.MethodPost && via[0].URL.Host == req.URL.Host {
			return http.ErrUseLastResponse // a form's 303 is the answer to check
		}
		return nil
	}}
	resp, err := devidp.Login(t.Context(), hc, base+path, username)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(string(body))
	require.NotNil(t, csrf, "the page has a CSRF token")
	return &person{base: base, hc: hc, csrf: csrf[1]}
}

// post sends form to path with the CSRF token, and returns the answer
// without following a redirect.
func (p *person) post(t *testing.T, path string, form url.Values) *http.Response {
	t.Helper()
	form.Set("csrf_token", p.csrf)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, p.base+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.base)
	resp, err := p.hc.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (p *person) get(t *testing.T, path string) *http.Response {
	t.Helper()
	resp, err := p.hc.Get(p.base + path)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// stream opens the event stream at path as a browser's EventSource does;
// closing the body ends it.
func (p *person) stream(t *testing.T, path string) io.Closer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := p.hc.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return resp.Body
}

// scrape reads the metrics at metricsURL in Prometheus's text format.
func scrape(t *testing.T, metricsURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(metricsURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// value is the value of a counter or gauge sample, or -1 when there is
// none (so that a comparison fails with the name in the message).
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := families[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			if label(m, k) != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	return -1
}

// histogramCount is the observation count of a histogram sample, 0 when
// there is none.
func histogramCount(families map[string]*dto.MetricFamily, name string, want map[string]string) uint64 {
	var n uint64
	f := families[name]
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			if label(m, k) != v {
				continue next
			}
		}
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// A worker-only process serves its metrics too: its job runs and the
// freshness of the inventory and the audit chain, without any web metric
// having been observed.
func TestMetricsOfAWorkerOnlyProcess(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	out, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-worker"}, envOf(vars), outW, io.Discard)
		outW.Close()
	}()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	lines := bufio.NewScanner(out)
	require.True(t, lines.Scan())
	require.Equal(t, "portal: worker running", lines.Text())
	require.True(t, lines.Scan())
	metricsURL, ok := strings.CutPrefix(lines.Text(), "portal: metrics on ")
	require.True(t, ok, lines.Text())
	go func() { _, _ = io.Copy(io.Discard, out) }()

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		families := scrape(t, metricsURL)
		require.Contains(c, families, "clusterdesk_inventory_last_sync_timestamp_seconds")
		require.Equal(c, 1.0, value(families, "clusterdesk_audit_last_verification_ok", nil))
		require.GreaterOrEqual(c, value(families, "clusterdesk_cloud_token_fetches_total", map[string]string{"outcome": "ok"}), 1.0)
		require.Contains(c, families, "clusterdesk_river_jobs")
		require.Equal(c, 0, int(histogramCount(families, "clusterdesk_http_request_duration_seconds", nil)), "no web here")
	}, 30*time.Second, 50*time.Millisecond)
}

// PORTAL_METRICS_ADDR=off serves no metrics; the public address is refused.
func TestMetricsListenerSettings(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	vars["PORTAL_METRICS_ADDR"] = vars["PORTAL_LISTEN_ADDR"]
	err := run(t.Context(), []string{"serve"}, envOf(vars), io.Discard, io.Discard)
	require.ErrorContains(t, err, "PORTAL_METRICS_ADDR: "+vars["PORTAL_LISTEN_ADDR"]+" is PORTAL_LISTEN_ADDR")

	vars["PORTAL_METRICS_ADDR"] = "off"
	var printed strings.Builder
	ctx, cancel := context.WithCancel(t.Context())
	out, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-web"}, envOf(vars), outW, io.Discard)
		outW.Close()
	}()
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		printed.WriteString(lines.Text() + "\n")
		if strings.HasPrefix(lines.Text(), "portal: listening on ") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	cancel()
	require.NoError(t, <-done)
	require.Contains(t, printed.String(), "portal: listening on ")
	require.NotContains(t, printed.String(), "metrics")
}
