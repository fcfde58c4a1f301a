package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Unmatched is the route label of a request no route matched: whatever
// path was asked for, it is never a label value.
const Unmatched = "unmatched"

// Request records one answered request: route is its route pattern
// (/requests/:id), or "" when no route matched; status is the status
// written.
func (m *Metrics) Request(route, method string, status int, took time.Duration) {
	m.httpDuration.WithLabelValues(RouteLabel(route), MethodLabel(method), StatusClass(status)).Observe(took.Seconds())
}

// InFlight adds delta to the requests being handled.
func (m *Metrics) InFlight(delta int) { m.inFlight.Add(float64(delta)) }

// Stream adds delta to the event streams open.
func (m *Metrics) Stream(delta int) { m.streams.Add(float64(delta)) }

// RouteLabel is the route label of a route pattern: the pattern itself,
// or Unmatched for none. A caller passes a pattern the router knows, never
// a path.
func RouteLabel(pattern string) string {
	if pattern == "" {
		return Unmatched
	}
	return pattern
}

// MethodLabel keeps the methods of HTTP's registry and folds any other
// (a client may send anything) into "other".
func MethodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// StatusClass is "2xx" for 200 to 299 and so on; a status outside 100 to
// 599 is "unknown".
func StatusClass(status int) string {
	if status < 100 || status > 599 {
		return "unknown"
	}
	return strconv.Itoa(status/100) + "xx"
}

// CallDone records one HTTP exchange with the Cloud Manager API
// (cloudapi.Observer).
func (m *Metrics) CallDone(op cloudapi.Operation, status int, err error, took time.Duration) {
	m.cloudCalls.WithLabelValues(OperationLabel(op), CallOutcome(status, err)).Observe(took.Seconds())
}

// TokenFetched records one service-account token request
// (cloudapi.Observer).
func (m *Metrics) TokenFetched(err error, took time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.tokenFetch.WithLabelValues(outcome).Inc()
	m.tokenTiming.Observe(took.Seconds())
}

// OperationLabel keeps the API's operations and folds anything else into
// "other".
func OperationLabel(op cloudapi.Operation) string {
	switch op {
	case cloudapi.OpListClusters, cloudapi.OpCreateCluster, cloudapi.OpGetCluster, cloudapi.OpReplaceCluster,
		cloudapi.OpUpdateCluster, cloudapi.OpDeleteCluster, cloudapi.OpGetClusterVersion, cloudapi.OpRestartServer:
		return string(op)
	}
	return "other"
}

// CallOutcome classifies an exchange by its status (0 without a reply)
// and error. The alert on Cloud Manager's error rate counts server_error,
// timeout and network_error; the others are answers the portal expects
// now and then (a busy cluster, a cluster already deleted).
func CallOutcome(status int, err error) string {
	switch {
	case err == nil && status >= 200 && status <= 299:
		return "ok"
	case status == http.StatusNotFound:
		return "not_found"
	case status == http.StatusConflict:
		return "busy"
	case status == http.StatusTooManyRequests:
		return "rate_limited"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return "unauthorized"
	case status >= 500:
		return "server_error"
	case status >= 400:
		return "rejected"
	case isTimeout(err):
		return "timeout"
	}
	// No reply, a reply that could not be read, or a status the API never
	// sends (1xx, 3xx).
	return "network_error"
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// Submission outcomes: execution's attempt outcomes, and reconciled.
var submissionOutcomes = []string{"accepted", "busy", "rate_limited", "rejected", "unknown", "reconciled"}

// Submitted records the outcome of one attempt to send an approved change
// (execution.Options.Observe). An outcome outside the known ones is
// counted as "other".
func (m *Metrics) Submitted(outcome string) {
	for _, o := range submissionOutcomes {
		if o == outcome {
			m.submissions.WithLabelValues(outcome).Inc()
			return
		}
	}
	m.submissions.WithLabelValues("other").Inc()
}

// JobDone records one run of a background job (worker.Observer): kind is
// the job's registered kind, outcome how the run ended.
func (m *Metrics) JobDone(kind, outcome string, took time.Duration) {
	m.jobs.WithLabelValues(kind, outcome).Inc()
	m.jobDuration.WithLabelValues(kind).Observe(took.Seconds())
}

// InventorySynced records a successful inventory sync (worker.Observer).
func (m *Metrics) InventorySynced(at time.Time) { m.inventorySynced.set(at) }

// AuditVerified records an audit chain verification and whether the
// chain was intact (worker.Observer).
func (m *Metrics) AuditVerified(at time.Time, ok bool) {
	m.auditVerified.set(at)
	v := 0.0
	if ok {
		v = 1
	}
	m.auditOK.set(v)
}

// lastTime is a gauge of a moment, absent until the first one: a zero
// would read as "55 years ago" and fire every staleness alert of a
// process that has not had its turn yet.
type lastTime struct {
	v *lastValue
}

func newLastTime(desc *prometheus.Desc) *lastTime { return &lastTime{v: newLastValue(desc)} }

func (l *lastTime) set(at time.Time) { l.v.set(float64(at.UnixNano()) / 1e9) }

func (l *lastTime) Describe(ch chan<- *prometheus.Desc) { l.v.Describe(ch) }
func (l *lastTime) Collect(ch chan<- prometheus.Metric) { l.v.Collect(ch) }

// lastValue is a gauge absent until first set.
type lastValue struct {
	desc *prometheus.Desc

	mu    sync.Mutex
	isSet bool
	v     float64
}

func newLastValue(desc *prometheus.Desc) *lastValue { return &lastValue{desc: desc} }

func (l *lastValue) set(v float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.v, l.isSet = v, true
}

func (l *lastValue) Describe(ch chan<- *prometheus.Desc) { ch <- l.desc }

func (l *lastValue) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	v, ok := l.v, l.isSet
	l.mu.Unlock()
	if ok {
		ch <- prometheus.MustNewConstMetric(l.desc, prometheus.GaugeValue, v)
	}
}
