package main

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/clusterdesk/clusterdesk/internal/database"
)

// otlpReceiver is an OTLP/HTTP trace receiver, as a collector serves it:
// POST /v1/traces with an ExportTraceServiceRequest in protobuf.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string // service.name of each export's resources
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(r.export))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf POST to /v1/traces", http.StatusNotFound)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var export coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &export); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range export.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				r.services = append(r.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	r.mu.Unlock()
	answer, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(answer)
}

// received returns the spans received so far.
func (r *otlpReceiver) received() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...)
}

// traceparents records the traceparent header of every call the simulator
// receives, by method and path.
type traceparents struct {
	mu    sync.Mutex
	calls []simCall
}

type simCall struct{ method, path, traceparent string }

func (tp *traceparents) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.mu.Lock()
		tp.calls = append(tp.calls, simCall{r.Method, r.URL.Path, r.Header.Get("traceparent")})
		tp.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (tp *traceparents) all() []simCall {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]simCall(nil), tp.calls...)
}

// tracedEnv is testEnv with the simulator behind a recorder of the
// traceparent headers it receives.
func tracedEnv(t *testing.T) (map[string]string, *traceparents) {
	t.Helper()
	vars, s := testEnvSim(t)
	tp := &traceparents{}
	front := httptest.NewServer(tp.wrap(s))
	t.Cleanup(front.Close)
	vars["PORTAL_CLOUD_API_URL"] = s.APIURL(front.URL)
	vars["PORTAL_CLOUD_TOKEN_URL"] = s.TokenURL(front.URL)
	vars["PORTAL_REQUESTER_GROUPS"] = "developers"
	return vars, tp
}

// startLogged is start with the program's log lines kept.
func startLogged(t *testing.T, vars map[string]string) (string, *logLines, func() error) {
	t.Helper()
	logs := &logLines{}
	addr, _, stop := startWith(t, []string{"serve"}, vars, logs)
	return addr, logs, stop
}

// logLines collects JSON log lines.
type logLines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) find(t *testing.T, match func(map[string]any) bool) []map[string]any {
	t.Helper()
	l.mu.Lock()
	text := l.buf.String()
	l.mu.Unlock()
	var found []map[string]any
	for raw := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(raw), &line), raw)
		if match(line) {
			found = append(found, line)
		}
	}
	return found
}

// spanTree indexes the received spans of one trace by span id.
type spanTree map[string]*tracepb.Span

func (tree spanTree) ancestorOf(ancestor, span *tracepb.Span) bool {
	for s := span; s != nil; s = tree[hex.EncodeToString(s.GetParentSpanId())] {
		if string(s.GetSpanId()) == string(ancestor.GetSpanId()) {
			return true
		}
	}
	return false
}

// attr is the span's attribute key as text, "" when it has none.
func attr(s *tracepb.Span, key string) string {
	for _, a := range s.GetAttributes() {
		if a.GetKey() != key {
			continue
		}
		switch v := a.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return strconv.FormatInt(v.IntValue, 10)
		}
	}
	return ""
}

// TestOneTraceFromApprovalToCloudManager runs the real program with an
// OTLP receiver: alice files a start of clickstream-dev, bob approves it,
// the worker sends it and it converges. One trace holds bob's approval
// request (a server span), the submit job (a child of the approval, though
// it ran in the worker), the Cloud Manager call that job made (whose
// traceparent the simulator received) and SQL statements of both; the log
// line of the approval carries its request id and that trace id.
//
// Not parallel: it sets the OTEL_* variables of the process, as an
// operator does (the SDK reads them there).
func TestOneTraceFromApprovalToCloudManager(t *testing.T) {
	receiver := newOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	t.Setenv("OTEL_SERVICE_NAME", "clusterdesk-test")
	vars, simCalls := tracedEnv(t)
	base, logs, stop := startLogged(t, vars)

	configured := logs.find(t, func(l map[string]any) bool { return l["msg"] == "configuration" })
	require.Len(t, configured, 1)
	require.Equal(t, map[string]any{"enabled": true, "endpoint": receiver.URL, "service_name": "clusterdesk-test", "sampler": "parentbased_always_on"}, configured[0]["tracing"])

	uid := clusterUID(t, vars["PORTAL_DATABASE_URL"], "clickstream-dev")
	alice := signedIn(t, base, "/clusters/"+uid+"/requests/new?kind=start", "alice")
	resp := alice.post(t, "/clusters/"+uid+"/requests", url.Values{"kind": {"start"}, "reason": {"traced start"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	requestPath := resp.Header.Get("Location")
	require.Regexp(t, `^/requests/[0-9]+$`, requestPath)

	bob := signedIn(t, base, requestPath, "bob")
	resp = bob.post(t, requestPath+"/approve", url.Values{"revision": {"1"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	approvalID := resp.Header.Get("X-Request-Id")
	require.NotEmpty(t, approvalID)
	waitForState(t, vars["PORTAL_DATABASE_URL"], strings.TrimPrefix(requestPath, "/requests/"), "succeeded")
	// The stop flushes the spans still buffered.
	require.NoError(t, stop())

	spans := receiver.received()
	var approval *tracepb.Span
	for _, s := range spans {
		if s.GetName() == "POST /requests/:id/approve" && attr(s, "url.path") == requestPath+"/approve" {
			approval = s
		}
	}
	require.NotNil(t, approval, "the approval's server span")
	require.Equal(t, tracepb.Span_SPAN_KIND_SERVER, approval.GetKind())
	require.Equal(t, "303", attr(approval, "http.response.status_code"))
	require.Equal(t, approvalID, attr(approval, "clusterdesk.request_id"))
	traceID := hex.EncodeToString(approval.GetTraceId())

	tree := spanTree{}
	var submit, call *tracepb.Span
	var sqlInRequest, sqlInJob bool
	for _, s := range spans {
		if hex.EncodeToString(s.GetTraceId()) == traceID {
			tree[hex.EncodeToString(s.GetSpanId())] = s
		}
	}
	for _, s := range tree {
		if s.GetName() == "job submit" && tree.ancestorOf(approval, s) {
			submit = s
		}
	}
	require.NotNil(t, submit, "the submit job's span, in the approval's trace, below it")
	require.Equal(t, tracepb.Span_SPAN_KIND_CONSUMER, submit.GetKind())
	for _, s := range tree {
		switch {
		case strings.HasPrefix(s.GetName(), "cloudapi PATCH ") && tree.ancestorOf(submit, s):
			call = s
		case attr(s, "db.system.name") == "postgresql" && tree.ancestorOf(submit, s):
			sqlInJob = true
		case attr(s, "db.system.name") == "postgresql" && tree.ancestorOf(approval, s):
			sqlInRequest = true
		}
	}
	require.NotNil(t, call, "the Cloud Manager call of the submission, below the job: %v", names(tree))
	t.Logf("the approval's trace: %d spans: %v", len(tree), names(tree))
	require.Equal(t, "cloudapi PATCH /clusters/{clusterId}", call.GetName())
	require.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, call.GetKind())
	require.Equal(t, "200", attr(call, "http.response.status_code"))
	require.True(t, sqlInRequest, "SQL statements of the approval")
	require.True(t, sqlInJob, "SQL statements of the job")

	// The simulator was handed that span's context, and the trace has no
	// other change (the dry runs of filing and reviewing are PATCHes too,
	// each in the trace of its own page).
	want := "00-" + traceID + "-" + hex.EncodeToString(call.GetSpanId()) + "-01"
	var patched []string
	for _, c := range simCalls.all() {
		if c.method == http.MethodPatch {
			require.NotEmpty(t, c.traceparent, "every call carries a trace context")
			if strings.Contains(c.traceparent, traceID) {
				patched = append(patched, c.traceparent)
			}
		}
	}
	require.Equal(t, []string{want}, patched)

	// No span holds a secret, a token or an SQL argument.
	for _, s := range spans {
		for _, a := range s.GetAttributes() {
			for _, secret := range []string{"sa-secret", "portal-test-secret", "Bearer", "traced start"} {
				require.NotContains(t, a.GetValue().GetStringValue(), secret, "%s %s", s.GetName(), a.GetKey())
			}
		}
	}

	// The approval's log line carries its request id and the trace id.
	lines := logs.find(t, func(l map[string]any) bool { return l["msg"] == "request" && l["path"] == requestPath+"/approve" })
	require.Len(t, lines, 1)
	require.Equal(t, approvalID, lines[0]["request_id"])
	require.Equal(t, traceID, lines[0]["trace_id"])
}

// TestNoExporterWithoutAnEndpoint: with no OTLP endpoint tracing is off:
// the configuration line says so, log lines have request ids but no trace
// ids, and Cloud Manager is sent no trace context.
func TestNoExporterWithoutAnEndpoint(t *testing.T) {
	receiver := newOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	// Everything else an operator might have set, but the endpoint.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	t.Setenv("OTEL_SERVICE_NAME", "clusterdesk-test")
	vars, simCalls := tracedEnv(t)
	base, logs, stop := startLogged(t, vars)

	configured := logs.find(t, func(l map[string]any) bool { return l["msg"] == "configuration" })
	require.Len(t, configured, 1)
	require.Equal(t, map[string]any{"enabled": false, "why": "OTEL_EXPORTER_OTLP_ENDPOINT is not set"}, configured[0]["tracing"])

	// A signed-in page, whose handler reads the database; the worker's
	// inventory sync calls Cloud Manager.
	signedIn(t, base, "/clusters", "alice")
	clusterUID(t, vars["PORTAL_DATABASE_URL"], "clickstream-dev")
	require.NoError(t, stop())

	requests := logs.find(t, func(l map[string]any) bool { return l["msg"] == "request" })
	require.NotEmpty(t, requests)
	for _, l := range requests {
		require.NotEmpty(t, l["request_id"])
		require.NotContains(t, l, "trace_id")
	}
	calls := simCalls.all()
	require.NotEmpty(t, calls)
	for _, c := range calls {
		require.Empty(t, c.traceparent, "%s %s", c.method, c.path)
	}
	require.Empty(t, receiver.received())
}

// names counts the spans of tree by name.
func names(tree spanTree) map[string]int {
	out := map[string]int{}
	for _, s := range tree {
		out[s.GetName()]++
	}
	return out
}

// clusterUID waits for the inventory to hold the cluster named name.
func clusterUID(t *testing.T, databaseURL, name string) string {
	t.Helper()
	pool, err := database.Open(t.Context(), databaseURL)
	require.NoError(t, err)
	defer pool.Close()
	var uid string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.NoError(c, pool.QueryRow(t.Context(), "SELECT uid FROM clusters WHERE name = $1", name).Scan(&uid))
	}, 20*time.Second, 50*time.Millisecond)
	return uid
}

// waitForState waits for change request id to reach state.
func waitForState(t *testing.T, databaseURL, id, state string) {
	t.Helper()
	pool, err := database.Open(t.Context(), databaseURL)
	require.NoError(t, err)
	defer pool.Close()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var got string
		require.NoError(c, pool.QueryRow(t.Context(), "SELECT state FROM change_requests WHERE id = $1", id).Scan(&got))
		require.Equal(c, state, got)
	}, 30*time.Second, 50*time.Millisecond)
}
