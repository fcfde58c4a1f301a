package worker

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// RequestExpireArgs expires the pending and stale requests nobody touched
// for Options.RequestExpireAfter (approvals.Service.Expire).
type RequestExpireArgs struct{}

// Kind names the job in River's tables.
func (RequestExpireArgs) Kind() string { return "request_expire" }

type requestExpireWorker struct {
	river.WorkerDefaults[RequestExpireArgs]
	svc   *approvals.Service
	after time.Duration
	now   func() time.Time
}

func (w *requestExpireWorker) Work(ctx context.Context, _ *river.Job[RequestExpireArgs]) error {
	_, err := w.svc.Expire(ctx, w.now().Add(-w.after))
	return err
}

// RequestExpireInterval is how often the worker looks for requests to
// expire.
const RequestExpireInterval = time.Hour

// addRequestExpiry registers the expiry job and, when requests expire,
// schedules it hourly and at start.
func addRequestExpiry(pool *pgxpool.Pool, workers *river.Workers, periodic []*river.PeriodicJob, after time.Duration) []*river.PeriodicJob {
	river.AddWorker(workers, &requestExpireWorker{svc: approvals.New(pool, approvals.Config{}), after: after, now: time.Now})
	if after <= 0 {
		return periodic
	}
	return append(periodic, river.NewPeriodicJob(river.PeriodicInterval(min(RequestExpireInterval, after)),
		func() (river.JobArgs, *river.InsertOpts) { return RequestExpireArgs{}, singleton() },
		&river.PeriodicJobOpts{ID: "request_expire", RunOnStart: true}))
}
