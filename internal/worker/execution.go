package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/execution"
)

// SubmitArgs submits revision Revision of approved request RequestID
// (execution.Executor.Submit).
type SubmitArgs struct {
	RequestID int64 `json:"request_id"`
	Revision  int   `json:"revision"`
	// Resend counts an admin's resends of a failed change, and Requeue the
	// times it was queued anew after its approvals expired, so that each
	// is a job of its own.
	Resend  int `json:"resend,omitempty"`
	Requeue int `json:"requeue,omitempty"`
}

// Kind names the job in River's tables.
func (SubmitArgs) Kind() string { return "submit" }

// InsertOpts: one job per approved revision, whoever inserts it. River's
// own attempts cover database errors only; upstream failures snooze the
// job and count against execution.Options.MaxAttempts.
func (SubmitArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: allStates()}}
}

// TrackArgs follows the cluster of an accepted change (request RequestID at
// Revision, state applying) until it has converged or failed
// (execution.Executor.Track).
type TrackArgs struct {
	RequestID int64 `json:"request_id"`
	Revision  int   `json:"revision"`
}

// Kind names the job in River's tables.
func (TrackArgs) Kind() string { return "track" }

// InsertOpts: one tracker per accepted revision.
func (TrackArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: allStates()}}
}

func allStates() []rivertype.JobState {
	return []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStateCompleted,
		rivertype.JobStateCancelled, rivertype.JobStateDiscarded}
}

// jobs inserts execution's jobs with a River client (execution.Jobs).
type jobs struct {
	client *river.Client[pgx.Tx] // set once the client exists
}

func (j *jobs) Submit(ctx context.Context, tx pgx.Tx, id int64, rev, resend, requeue int) error {
	_, err := j.client.InsertTx(ctx, tx, SubmitArgs{RequestID: id, Revision: rev, Resend: resend, Requeue: requeue}, nil)
	return err
}

// SubmitAt inserts the submit job to run at at (execution.ScheduledJobs):
// River keeps it scheduled until then.
func (j *jobs) SubmitAt(ctx context.Context, tx pgx.Tx, id int64, rev, requeue int, at time.Time) error {
	_, err := j.client.InsertTx(ctx, tx, SubmitArgs{RequestID: id, Revision: rev, Requeue: requeue}, &river.InsertOpts{ScheduledAt: at})
	return err
}

func (j *jobs) Track(ctx context.Context, tx pgx.Tx, id int64, rev int) error {
	_, err := j.client.InsertTx(ctx, tx, TrackArgs{RequestID: id, Revision: rev}, nil)
	return err
}

type submitWorker struct {
	river.WorkerDefaults[SubmitArgs]
	executor *execution.Executor
}

func (w *submitWorker) Timeout(*river.Job[SubmitArgs]) time.Duration {
	return w.executor.SubmitTimeout()
}

// NextRetry: database errors are retried soon; upstream failures never
// reach River (they snooze).
func (w *submitWorker) NextRetry(job *river.Job[SubmitArgs]) time.Time {
	return time.Now().Add(w.executor.Backoff(job.Attempt))
}

func (w *submitWorker) Work(ctx context.Context, job *river.Job[SubmitArgs]) error {
	return snoozeAfter(w.executor.Submit(ctx, job.Args.RequestID, job.Args.Revision))
}

type trackWorker struct {
	river.WorkerDefaults[TrackArgs]
	executor *execution.Executor
}

// NextRetry: a database error is retried at the tracking pace.
func (w *trackWorker) NextRetry(*river.Job[TrackArgs]) time.Time {
	return time.Now().Add(w.executor.TrackInterval())
}

func (w *trackWorker) Work(ctx context.Context, job *river.Job[TrackArgs]) error {
	return snoozeAfter(w.executor.Track(ctx, job.Args.RequestID, job.Args.Revision))
}

// snoozeAfter turns an execution step's answer into River's: run again
// after again, or done.
func snoozeAfter(again time.Duration, err error) error {
	if err != nil || again <= 0 {
		return err
	}
	return river.JobSnooze(again)
}

// OnApproved is the approvals.Config.OnApproved hook: in the approving
// transaction it queues the request for its cluster and inserts its submit
// job (execution.Queue). Errors when the worker has no Execution options
// (a process that approves but runs no jobs uses Enqueuer instead).
func (w *Worker) OnApproved(ctx context.Context, tx pgx.Tx, r approvals.Request) error {
	if w.executor == nil {
		return errors.New("worker: execution is not configured (Options.Execution)")
	}
	return execution.Queue(ctx, tx, w.jobs, r)
}

// Enqueuer returns the approvals.Config.OnApproved hook for a process that
// approves requests but runs no jobs (a web-only replica): it inserts with
// an insert-only River client; workers elsewhere run the jobs.
func Enqueuer(pool *pgxpool.Pool) (func(ctx context.Context, tx pgx.Tx, r approvals.Request) error, error) {
	j, err := insertOnly(pool)
	if err != nil {
		return nil, fmt.Errorf("worker: enqueuer: %w", err)
	}
	return func(ctx context.Context, tx pgx.Tx, r approvals.Request) error {
		return execution.Queue(ctx, tx, j, r)
	}, nil
}

// Resend sends a failed change again (execution.Resend).
func (w *Worker) Resend(ctx context.Context, a approvals.Actor, id int64, comment string) (approvals.Request, error) {
	return execution.Resend(ctx, w.pool, w.jobs, a, id, comment)
}

// Resender returns Resend for a process that runs no jobs (see Enqueuer).
func Resender(pool *pgxpool.Pool) (execution.ResendFunc, error) {
	j, err := insertOnly(pool)
	if err != nil {
		return nil, fmt.Errorf("worker: resender: %w", err)
	}
	return func(ctx context.Context, a approvals.Actor, id int64, comment string) (approvals.Request, error) {
		return execution.Resend(ctx, pool, j, a, id, comment)
	}, nil
}

// insertOnly inserts jobs with a River client that runs none, for a
// process without a worker (Enqueuer, Resender). It keeps the worker's
// FetchCooldown, which for an inserting client is the window in which it
// sends no second insert notification for a queue.
func insertOnly(pool *pgxpool.Pool) (*jobs, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{FetchCooldown: FetchCooldown, Middleware: middleware()})
	if err != nil {
		return nil, err
	}
	return &jobs{client: client}, nil
}
