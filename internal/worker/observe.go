package worker

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Observer is told how each job run ended and when the inventory was
// synced and the audit chain verified, e.g. to count them (cmd/portal
// hands it internal/metrics). It must be quick and safe for concurrent
// use.
type Observer interface {
	// JobDone reports one run of a job of kind: completed, snoozed
	// (asked to run again later), retryable (failed, will be tried again),
	// discarded (failed for the last time), cancelled or panicked.
	JobDone(kind, outcome string, took time.Duration)
	// InventorySynced reports a successful periodic inventory sync.
	InventorySynced(at time.Time)
	// AuditVerified reports a verification of the audit chain and
	// whether it was intact.
	AuditVerified(at time.Time, ok bool)
}

type noObserver struct{}

func (noObserver) JobDone(string, string, time.Duration) {}
func (noObserver) InventorySynced(time.Time)             {}
func (noObserver) AuditVerified(time.Time, bool)         {}

// observerOr is o, or one that ignores everything.
func observerOr(o Observer) Observer {
	if o == nil {
		return noObserver{}
	}
	return o
}

// observeJobs is River middleware that tells o how each run ended.
func observeJobs(o Observer) rivertype.Middleware {
	return river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
		start := time.Now()
		outcome := "panicked" // unless doInner returns
		defer func() { o.JobDone(job.Kind, outcome, time.Since(start)) }()
		err := doInner(ctx)
		outcome = jobOutcome(job, err)
		return err
	})
}

// jobOutcome names how a run of job that returned err ended.
func jobOutcome(job *rivertype.JobRow, err error) string {
	if err == nil {
		return "completed"
	}
	if _, ok := errors.AsType[*rivertype.JobSnoozeError](err); ok {
		return "snoozed"
	}
	if _, ok := errors.AsType[*rivertype.JobCancelError](err); ok {
		return "cancelled"
	}
	if job.Attempt >= job.MaxAttempts {
		return "discarded"
	}
	return "retryable"
}
