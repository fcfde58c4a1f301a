package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// DefaultDryRunInterval is how often `portal serve` looks at the pending
// requests for a dry run that is due (a cluster that moved, a failed run,
// a revision whose own job was lost): Options.DryRunInterval.
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

// RequestDryRunArgs sends the dry run of one revision right after it was
// filed, edited or rebased (Worker.OnRevision inserts it in that
// transaction), unless the revision was superseded or checked meanwhile.
type RequestDryRunArgs struct {
	RequestID int64 `json:"request_id"`
	Revision  int   `json:"revision"`
}

// Kind names the job in River's tables.
func (RequestDryRunArgs) Kind() string { return "request_dry_run" }

// InsertOpts: a dry run that keeps failing is left to the periodic
// RequestDryRunsArgs, which tries again after approvals.DryRunRetryAfter.
func (RequestDryRunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type requestDryRunWorker struct {
	river.WorkerDefaults[RequestDryRunArgs]
	pool   *pgxpool.Pool
	api    approvals.DryRunner
	logger *slog.Logger
}

// Work runs the revision's dry run when it is still the pending
// request's current revision and has none yet.
func (w *requestDryRunWorker) Work(ctx context.Context, job *river.Job[RequestDryRunArgs]) error {
	r, err := approvals.Get(ctx, w.pool, job.Args.RequestID)
	if errors.Is(err, approvals.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.State != approvals.StatePending || r.Revision.Number != job.Args.Revision {
		return nil // superseded: the next revision has a job of its own
	}
	if _, err := approvals.DryRunGet(ctx, w.pool, r.ID, r.Revision.Number); !errors.Is(err, approvals.ErrNoDryRun) {
		return err // checked already (nil), or the database's error
	}
	d, err := approvals.RunDryRun(ctx, w.pool, w.api, r.ID)
	if err == nil && d.Error != "" {
		w.logger.WarnContext(ctx, "worker: a request's dry run could not be run; tried again later",
			"change_request", r.ID, "revision", d.Revision, "err", d.Error)
	}
	return err
}

// OnRevision is the approvals.Config.OnRevision hook: in the transaction
// that stores a new revision it inserts the revision's dry run. Errors
// when the worker runs no dry runs (Options.Execution and
// Options.DryRunInterval; a process that files requests but runs no jobs
// uses RevisionEnqueuer).
func (w *Worker) OnRevision(ctx context.Context, tx pgx.Tx, r approvals.Request) error {
	if !w.dryRuns {
		return errors.New("worker: dry runs are not configured (Options.Execution, Options.DryRunInterval)")
	}
	return w.jobs.DryRun(ctx, tx, r)
}

// RevisionEnqueuer returns the approvals.Config.OnRevision hook for a
// process that files requests but runs no jobs (see Enqueuer).
func RevisionEnqueuer(pool *pgxpool.Pool) (func(ctx context.Context, tx pgx.Tx, r approvals.Request) error, error) {
	j, err := insertOnly(pool)
	if err != nil {
		return nil, fmt.Errorf("worker: revision enqueuer: %w", err)
	}
	return j.DryRun, nil
}

// DryRun inserts the dry run of r's current revision.
func (j *jobs) DryRun(ctx context.Context, tx pgx.Tx, r approvals.Request) error {
	_, err := j.client.InsertTx(ctx, tx, RequestDryRunArgs{RequestID: r.ID, Revision: r.Revision.Number}, nil)
	return err
}

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
	if api == nil || interval <= 0 {
		return periodic
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	river.AddWorker(workers, &requestDryRunsWorker{pool: pool, api: api, logger: logger, timeout: max(interval, time.Minute)})
	river.AddWorker(workers, &requestDryRunWorker{pool: pool, api: api, logger: logger})
	return append(periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			insert := singleton()
			insert.MaxAttempts = 1
			return RequestDryRunsArgs{}, insert
		},
		&river.PeriodicJobOpts{ID: "request_dry_runs", RunOnStart: true}))
}
