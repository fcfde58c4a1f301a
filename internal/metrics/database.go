package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// poolCollector reports the connection pool's statistics (pgxpool.Stat)
// at each scrape.
type poolCollector struct {
	pool *pgxpool.Pool

	acquired, idle, constructing, total, max  *prometheus.Desc
	acquires, emptyAcquires, canceledAcquires *prometheus.Desc
	acquireWait, newConns                     *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:             pool,
		acquired:         d("acquired_connections", "Connections of the database pool in use now."),
		idle:             d("idle_connections", "Idle connections of the database pool now."),
		constructing:     d("constructing_connections", "Connections of the database pool being opened now."),
		total:            d("connections", "Connections of the database pool now (acquired, idle and being opened)."),
		max:              d("max_connections", "Most connections the database pool opens."),
		acquires:         d("acquires_total", "Connections taken from the database pool."),
		emptyAcquires:    d("empty_acquires_total", "Connections taken from the database pool that had to wait for one (none idle)."),
		canceledAcquires: d("canceled_acquires_total", "Waits for a connection of the database pool given up by the caller."),
		acquireWait:      d("acquire_duration_seconds_total", "Time spent taking connections from the database pool, waits included."),
		newConns:         d("new_connections_total", "Connections the database pool opened."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.constructing, c.total, c.max,
		c.acquires, c.emptyAcquires, c.canceledAcquires, c.acquireWait, c.newConns} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.constructing, float64(s.ConstructingConns()))
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	counter(c.acquireWait, s.AcquireDuration().Seconds())
	counter(c.newConns, float64(s.NewConnsCount()))
}

// queueStates are River's states of a job not finished yet: the queue
// (the query below names them too).
var queueStates = []string{"available", "pending", "retryable", "running", "scheduled"}

// queueCollector reports River's queue at each scrape: jobs not finished
// by state and kind, and how long the oldest job ready to run has waited.
// The query reads unfinished jobs only, through River's index on state.
type queueCollector struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	jobs    *prometheus.Desc
	oldest  *prometheus.Desc
}

func newQueueCollector(pool *pgxpool.Pool, timeout time.Duration) *queueCollector {
	return &queueCollector{
		pool: pool, timeout: timeout,
		jobs: prometheus.NewDesc(namespace+"_river_jobs",
			"Background jobs not finished, by River state (available, pending, retryable, running, scheduled) and kind; a state without jobs is reported once, without a kind, as 0.",
			[]string{"state", "kind"}, nil),
		oldest: prometheus.NewDesc(namespace+"_river_oldest_available_job_age_seconds",
			"How long the oldest job ready to run (available) has waited for a worker, by kind; 0 when none waits.",
			[]string{"kind"}, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.jobs; ch <- c.oldest }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	rows, err := c.pool.Query(ctx, `
		SELECT state::text, kind, count(*),
		       coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE state = 'available')), 0)::float8
		FROM river_job
		WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
		GROUP BY state, kind`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.jobs, fmt.Errorf("metrics: read the job queue: %w", err))
		return
	}
	defer rows.Close()
	seen := map[string]bool{}
	waiting := false
	for rows.Next() {
		var state, kind string
		var n int64
		var age float64
		if err := rows.Scan(&state, &kind, &n, &age); err != nil {
			ch <- prometheus.NewInvalidMetric(c.jobs, fmt.Errorf("metrics: read the job queue: %w", err))
			return
		}
		seen[state] = true
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), state, kind)
		if state == "available" {
			waiting = true
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, max(age, 0), kind)
		}
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.jobs, fmt.Errorf("metrics: read the job queue: %w", err))
		return
	}
	for _, s := range queueStates {
		if !seen[s] {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, 0, s, "")
		}
	}
	if !waiting {
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, 0, "")
	}
}

// requestsCollector reports how many change requests are in each state
// at each scrape (every state, zero included).
type requestsCollector struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	desc    *prometheus.Desc
}

func newRequestsCollector(pool *pgxpool.Pool, timeout time.Duration) *requestsCollector {
	return &requestsCollector{pool: pool, timeout: timeout, desc: prometheus.NewDesc(namespace+"_change_requests",
		"Change requests by state (pending, approved, submitting, applying, succeeded, failed, rejected, cancelled, stale, expired).",
		[]string{"state"}, nil)}
}

func (c *requestsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *requestsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	rows, err := c.pool.Query(ctx, `SELECT state, count(*) FROM change_requests GROUP BY state`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("metrics: count change requests: %w", err))
		return
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("metrics: count change requests: %w", err))
			return
		}
		counts[state] = n
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("metrics: count change requests: %w", err))
		return
	}
	// Only the known states become labels: the column is the domain's,
	// and a label's values must stay a fixed set.
	for _, s := range approvals.States() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[string(s)]), string(s))
	}
}
