// Package worker runs Clusterdesk's background jobs on River, a job queue
// kept in the portal's PostgreSQL database.
//
// New registers every worker and periodic job; Start and Stop bracket its
// life inside `portal serve`. Any number of processes may run workers: River
// hands each job to one of them (FOR UPDATE SKIP LOCKED) and elects one
// leader to enqueue periodic jobs.
//
// With Options.Execution it also executes approved change requests:
// Worker.OnApproved (the approvals.Config.OnApproved hook) queues a submit
// job in the approving transaction, and the submit and track jobs drive
// internal/execution, which sends each change exactly once and follows it
// to convergence. The jobs here are thin adapters: what a job does lives in
// the domain package it calls (execution, inventory, audit).
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// Options configure the worker.
type Options struct {
	// AuditVerifyInterval is how often the whole audit chain is verified.
	AuditVerifyInterval time.Duration
	// AuditRetentionYears keeps audit events this many years; zero keeps
	// them forever and schedules no pruning.
	AuditRetentionYears int
	// AuditPruneInterval is how often old events are pruned when a
	// retention is set; zero means daily.
	AuditPruneInterval time.Duration
	// MaxWorkers is how many jobs run at once in this process; zero means 10.
	MaxWorkers int
	// Inventory, when set, keeps the cluster inventory fresh: a sync every
	// InventorySyncInterval (zero: 30 s) and at start, and on-demand
	// refreshes (InventoryRefreshArgs). See sync_inventory.go.
	Inventory             *inventory.Syncer
	InventorySyncInterval time.Duration
	// Execution, when set, executes approved change requests: register
	// Worker.OnApproved as approvals.Config.OnApproved. See execution.go.
	Execution *execution.Options
	// DryRunInterval, when above zero (and with Execution, whose API sends
	// them), runs the pending requests' dry runs in the background: each
	// new revision's (Worker.OnRevision) and, every DryRunInterval, those
	// due again (see dry_run.go). `portal serve` uses DefaultDryRunInterval.
	DryRunInterval time.Duration
	// FetchCooldown and FetchPollInterval tune how soon a new job is picked
	// up; zero means FetchCooldown (10 ms) and River's 1 s poll.
	// FetchPollInterval may not be shorter than FetchCooldown.
	FetchCooldown, FetchPollInterval time.Duration
	// AuditChainInterval is how often committed audit events are looked
	// for to be chained; zero means audit.ChainInterval.
	AuditChainInterval time.Duration
	// RescueAfter is how long a job may run before River takes the process
	// running it for dead and runs it again (River's RescueStuckJobsAfter;
	// zero keeps River's hour). Jobs other than the ones with a timeout of
	// their own then time out after half of it.
	RescueAfter time.Duration
	// RequestExpireAfter, when above zero, expires the pending and stale
	// requests nobody touched for that long (request_expiry.go).
	RequestExpireAfter time.Duration
	// Observer, when set, is told how each job run ended and of each
	// inventory sync and audit verification (observe.go).
	Observer Observer
	// Notify, when set, runs the notification jobs on their own queue and
	// relays the audit events people are told of into them (notify.Relay).
	Notify *notify.Service
}

// FetchCooldown is the worker's default for Options.FetchCooldown, and the
// insert-only client's. River's own (100 ms) is also the window in which a
// client sends no second insert notification for a queue, and the time a
// producer waits after a fetch before the next one: an approval arriving
// just after another job's insert or fetch then waited up to 100 ms, or
// for the 1 s poll when its notification was the one held back. Fetching
// at most every 10 ms costs one cheap query per notification burst.
const FetchCooldown = 10 * time.Millisecond

// Worker is the River client with every job of the portal registered.
type Worker struct {
	pool     *pgxpool.Pool
	client   *river.Client[pgx.Tx]
	logger   *slog.Logger
	jobs     *jobs
	executor *execution.Executor // nil without Options.Execution
	dryRuns  bool                // OnRevision's job is registered
	loops    []*loop             // the audit chainer, and the notify relay with Options.Notify
}

// New prepares the worker on pool without starting it.
func New(pool *pgxpool.Pool, logger *slog.Logger, opts Options) (*Worker, error) {
	if opts.AuditVerifyInterval <= 0 {
		return nil, errors.New("worker: AuditVerifyInterval must be above zero")
	}
	if opts.AuditPruneInterval <= 0 {
		opts.AuditPruneInterval = 24 * time.Hour
	}
	opts.Observer = observerOr(opts.Observer)
	workers := river.NewWorkers()
	river.AddWorker(workers, &auditVerifyWorker{pool: pool, logger: logger, timeout: opts.AuditVerifyInterval, observer: opts.Observer})
	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(opts.AuditVerifyInterval),
			func() (river.JobArgs, *river.InsertOpts) { return AuditVerifyArgs{}, singleton() },
			&river.PeriodicJobOpts{ID: "audit_verify", RunOnStart: true}),
	}
	river.AddWorker(workers, &auditPruneWorker{pool: pool, logger: logger, years: opts.AuditRetentionYears, now: time.Now})
	if opts.AuditRetentionYears > 0 {
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(opts.AuditPruneInterval),
			func() (river.JobArgs, *river.InsertOpts) { return AuditPruneArgs{}, singleton() },
			&river.PeriodicJobOpts{ID: "audit_prune", RunOnStart: true}))
	}
	periodic = addInventoryJobs(workers, periodic, opts)
	periodic = addRequestExpiry(pool, workers, periodic, opts.RequestExpireAfter)
	j := &jobs{}
	var executor *execution.Executor
	if opts.Execution != nil {
		execOpts := *opts.Execution
		var err error
		if executor, err = execution.New(pool, j, execOpts); err != nil {
			return nil, err
		}
		river.AddWorker(workers, &submitWorker{executor: executor})
		river.AddWorker(workers, &trackWorker{executor: executor})
		periodic = addDryRunJobs(workers, periodic, pool, logger, opts.Execution.API, opts.DryRunInterval)
	}

	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cmpOr(opts.MaxWorkers, 10)}}
	if opts.Notify != nil {
		opts.Notify.AddWorkers(workers)
		periodic = append(periodic, opts.Notify.PeriodicJobs()...)
		queues[notify.Queue] = notify.QueueConfig()
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:               logger,
		Workers:              workers,
		PeriodicJobs:         periodic,
		Queues:               queues,
		FetchCooldown:        cmp.Or(opts.FetchCooldown, FetchCooldown),
		FetchPollInterval:    opts.FetchPollInterval,
		RescueStuckJobsAfter: opts.RescueAfter,
		JobTimeout:           jobTimeout(opts.RescueAfter),
		Middleware:           append(middleware(), observeJobs(opts.Observer)),
	})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	j.client = client
	loops := []*loop{auditChainer(pool, logger, opts.AuditChainInterval)}
	if opts.Notify != nil {
		loops = append(loops, notifyRelay(pool, logger, client, opts.AuditChainInterval))
	}
	return &Worker{pool: pool, client: client, logger: logger, jobs: j, executor: executor,
		dryRuns: executor != nil && opts.DryRunInterval > 0, loops: loops}, nil
}

// singleton keeps one job of a kind queued or running at a time, so a slow
// run is not joined by the next one.
func singleton() *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// jobTimeout is River's job timeout for a rescue delay: its default
// (1 min), or half the delay when that is shorter, as River wants a job to
// time out before it counts as stuck.
func jobTimeout(rescueAfter time.Duration) time.Duration {
	if rescueAfter > 0 && rescueAfter/2 < time.Minute {
		return rescueAfter / 2
	}
	return 0
}

func cmpOr(n, fallback int) int {
	if n > 0 {
		return n
	}
	return fallback
}

// Start begins fetching and running jobs. It returns once the worker runs;
// stop it with Stop, not by cancelling ctx (ctx only bounds the start-up).
func (w *Worker) Start(ctx context.Context) error {
	// River treats the end of Start's context as a hard stop; the graceful
	// stop is Stop's job.
	if err := w.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	for _, l := range w.loops {
		l.start()
	}
	return nil
}

// Stop stops fetching jobs and waits for running ones to finish. When ctx
// ends first, running jobs are cancelled (River hands them back to the
// queue to retry) and Stop waits a few seconds more for them to return.
func (w *Worker) Stop(ctx context.Context) error {
	for _, l := range w.loops {
		l.halt()
	}
	err := w.client.Stop(ctx)
	if err == nil || !errors.Is(err, ctx.Err()) {
		return err
	}
	w.logger.Warn("worker: jobs still running at the stop deadline; cancelling them")
	hardCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.client.StopAndCancel(hardCtx); err != nil {
		return fmt.Errorf("worker: stop: %w", err)
	}
	return nil
}
