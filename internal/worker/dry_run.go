package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// DefaultDryRunInterval is how often pending requests are looked at for a
// dry run that is due, when Options.DryRunInterval is zero.
const DefaultDryRunInterval = 5 * time.Second

// dryRunsPerRun bounds the dry runs one job sends; the next run takes the
// rest.
const dryRunsPerRun = 20

// RequestDryRunsArgs sends Cloud Manager's dry run of every pending
// request whose current revision needs one (approvals.DryRunsDue: a new
// revision, a cluster that moved, a failed run to try again) and stores
// the answers, which the approver's page shows: page views never call
// Cloud Manager.
type RequestDryRunsArgs struct{}

// Kind names the job in River's tables.
func (RequestDryRunsArgs) Kind() string { return "request_dry_runs" }

type requestDryRunsWorker struct {
	river.WorkerDefaults[RequestDryRunsArgs]
	pool    *pgxpool.Pool
	api     approvals.DryRunner
	logger  *slog.Logger
	timeout time.Duration
}

// Timeout bounds one run (each dry run has the client's own timeouts).
func (w *requestDryRunsWorker) Timeout(*river.Job[RequestDryRunsArgs]) time.Duration {
	return w.timeout
}

// Work runs the dry runs that are due. One that cannot be run is stored
// as such (approvals.RunDryRun) and tried again later; only the
// database's errors fail the job, and the next periodic run retries.
func (w *requestDryRunsWorker) Work(ctx context.Context, _ *river.Job[RequestDryRunsArgs]) error {
	ids, err := approvals.DryRunsDue(ctx, w.pool, dryRunsPerRun)
	if err != nil {
		return err
	}
	for _, id := range ids {
		d, err := approvals.RunDryRun(ctx, w.pool, w.api, id)
		if err != nil {
			return err
		}
		if d.Error != "" {
			w.logger.WarnContext(ctx, "worker: a request's dry run could not be run; tried again later",
				"change_request", id, "revision", d.Revision, "err", d.Error)
		}
	}
	return nil
}

// addDryRunJobs registers the dry-run job, periodic and at start, when
// the worker has an API to send them with.
func addDryRunJobs(workers *river.Workers, periodic []*river.PeriodicJob, pool *pgxpool.Pool, logger *slog.Logger,
	api approvals.DryRunner, interval time.Duration) []*river.PeriodicJob {
	if api == nil {
		return periodic
	}
	if interval <= 0 {
		interval = DefaultDryRunInterval
	}
	river.AddWorker(workers, &requestDryRunsWorker{pool: pool, api: api, logger: logger, timeout: max(interval, time.Minute)})
	return append(periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			insert := singleton()
			insert.MaxAttempts = 1
			return RequestDryRunsArgs{}, insert
		},
		&river.PeriodicJobOpts{ID: "request_dry_runs", RunOnStart: true}))
}
