// Package metrics owns the portal's Prometheus registry and every metric in
// it: the one place that names them. Names follow Prometheus conventions
// (clusterdesk_ prefix, the unit in the name, _total for counters) and
// every label takes a bounded set of values — a route pattern, a status
// class, an operation, an outcome, a job kind, a state — never a request
// id, a person or a cluster.
//
// The rest of the program does not import this package: each adapter
// declares the small observer it needs (cloudapi.Observer,
// worker.Observer, handlers.RequestObserver, execution.Options.Observe) and
// cmd/portal hands it the matching part of a *Metrics. Values read from
// the database (queue depth, requests by state, pool statistics) are read
// when Prometheus scrapes, so every replica reports the same numbers.
//
// Each process has its own registry (no global one): tests run several
// portals in one process.
package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of the portal's own.
const namespace = "clusterdesk"

// Options configure New.
type Options struct {
	// Version is the portal's version, exported as clusterdesk_build_info.
	Version string
	// Logger receives scrape errors (a database query that failed); nil
	// discards them.
	Logger *slog.Logger
	// ScrapeTimeout bounds the database queries of one scrape; zero means
	// 5 s.
	ScrapeTimeout time.Duration
}

// Metrics is the registry of one portal process with every collector
// registered. Its methods are safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry
	logger   *slog.Logger

	// Web (handlers).
	httpDuration *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	streams      prometheus.Gauge

	// Cloud Manager (cloudapi).
	cloudCalls  *prometheus.HistogramVec
	tokenFetch  *prometheus.CounterVec
	tokenTiming prometheus.Histogram

	// Worker and execution.
	jobs            *prometheus.CounterVec
	jobDuration     *prometheus.HistogramVec
	submissions     *prometheus.CounterVec
	inventorySynced *lastTime
	auditVerified   *lastTime
	auditOK         *lastValue
}

// New returns the metrics of a process whose database is pool, with the
// Go runtime and process collectors registered too.
func New(pool *pgxpool.Pool, opts Options) *Metrics {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := opts.ScrapeTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		logger:   logger,
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer a request, by route pattern (unmatched when no route matched), method and status class. Event streams count for as long as they stayed open.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method", "status_class"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "http", Name: "requests_in_flight",
			Help: "Requests being handled now, event streams excepted (see clusterdesk_live_streams_open).",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "live", Name: "streams_open",
			Help: "Server-sent event streams open now (live pages).",
		}),
		cloudCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "cloud", Name: "call_duration_seconds",
			Help:    "Time of each HTTP exchange with the Cloud Manager API (each retry is one), by operation and outcome (ok, not_found, busy, rate_limited, unauthorized, rejected, server_error, timeout, network_error).",
			Buckets: []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"operation", "outcome"}),
		tokenFetch: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "cloud", Name: "token_fetches_total",
			Help: "Service-account token requests (client-credentials grant) to the token endpoint, by outcome (ok, error).",
		}, []string{"outcome"}),
		tokenTiming: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "cloud", Name: "token_fetch_duration_seconds",
			Help:    "Time of each service-account token request.",
			Buckets: []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "jobs", Name: "worked_total",
			Help: "Background job runs by kind and how they ended (completed, snoozed, retryable, discarded, cancelled, panicked).",
		}, []string{"kind", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "jobs", Name: "duration_seconds",
			Help:    "Time of each background job run, by kind.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"kind"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "submissions", Name: "total",
			Help: "Attempts to send an approved change, by outcome: accepted, busy (409), rate_limited (429), rejected (other 4xx, final), unknown (5xx, timeout, lost answer), and reconciled (a lost answer's change found applied).",
		}, []string{"outcome"}),
		inventorySynced: newLastTime(prometheus.NewDesc(namespace+"_inventory_last_sync_timestamp_seconds",
			"When this process last synced the cluster inventory from the Cloud Manager API successfully (Unix time); absent before its first sync. The age is time() minus it.", nil, nil)),
		auditVerified: newLastTime(prometheus.NewDesc(namespace+"_audit_last_verification_timestamp_seconds",
			"When this process last verified the audit hash chain (Unix time); absent before its first verification.", nil, nil)),
		auditOK: newLastValue(prometheus.NewDesc(namespace+"_audit_last_verification_ok",
			"1 when the last audit chain verification of this process found the chain intact, 0 when broken.", nil, nil)),
	}
	// Outcomes known in advance start at zero, so that rate() and
	// increase() see the first one.
	for _, o := range submissionOutcomes {
		m.submissions.WithLabelValues(o)
	}
	for _, o := range []string{"ok", "error"} {
		m.tokenFetch.WithLabelValues(o)
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; its version label is the portal's version.",
		ConstLabels: prometheus.Labels{"version": opts.Version},
	})
	buildInfo.Set(1)
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
		m.httpDuration, m.inFlight, m.streams,
		m.cloudCalls, m.tokenFetch, m.tokenTiming,
		m.jobs, m.jobDuration, m.submissions,
		m.inventorySynced, m.auditVerified, m.auditOK,
		newPoolCollector(pool),
		newQueueCollector(pool, timeout),
		newRequestsCollector(pool, timeout),
	)
	return m
}

// Registry is the registry every metric is in (for tests and for the
// handler).
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the metrics in the exposition format Prometheus asks for.
// A collector that fails (the database is down) is logged and left out;
// the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(m.logger.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.registry, // promhttp_metric_handler_errors_total
		EnableOpenMetrics: true,
	})
}
