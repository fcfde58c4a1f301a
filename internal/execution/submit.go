package execution

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// actor is who the audit log says acted for execution.
var actor = audit.System("worker")

// Executor submits approved changes and tracks them (see the package doc).
type Executor struct {
	pool *pgxpool.Pool
	jobs Jobs
	opts Options
}

// New returns an Executor on pool that queues its follow-up jobs with
// jobs. Errors: Options without API or Inventory, or a Behaviour that
// does not validate.
func New(pool *pgxpool.Pool, jobs Jobs, opts Options) (*Executor, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if jobs == nil {
		return nil, errors.New("execution: New needs Jobs")
	}
	return &Executor{pool: pool, jobs: jobs, opts: opts}, nil
}

// SubmitTimeout bounds one Submit run (a read and one call) well below
// InFlightTimeout, so that an attempt older than that is surely one whose
// process died.
func (e *Executor) SubmitTimeout() time.Duration { return e.opts.InFlightTimeout / 2 }

// Backoff is the wait after failed attempt n (1 for the first), also for a
// run that failed on the database.
func (e *Executor) Backoff(n int) time.Duration { return e.opts.backoff(n) }

// TrackInterval is the pace of Track.
func (e *Executor) TrackInterval() time.Duration { return e.opts.TrackInterval }

// Submit runs one attempt of revision rev of request id, if one is due,
// and returns how long to wait before running again (zero: nothing more
// to do here):
//
//  1. without locks: is the request still approved (or submitting) at
//     this revision, and first in its cluster's queue? Then read the
//     cluster once;
//  2. under the request's row lock: send an approved request whose
//     approvals expired back to its approvers (pending, nothing sent;
//     approvals.ReturnIfApprovalsExpired), reconcile after an attempt of
//     unknown outcome (waiting out the settle time), refuse a cluster that
//     moved (stale), give up after the budget, or record the attempt;
//  3. call the API;
//  4. under the row lock again: complete the attempt and move the request
//     on (applying and tracking, failed with the API's messages, or again
//     after a wait).
func (e *Executor) Submit(ctx context.Context, id int64, rev int) (time.Duration, error) {
	r, err := approvals.Get(ctx, e.pool, id)
	if err != nil {
		return 0, err
	}
	if !due(r, rev) {
		return 0, nil // cancelled, voided, stale or finished: nothing is sent
	}
	if r.State == approvals.StateApproved {
		// Not sent yet: a window that closed or a freeze added since it
		// was queued holds it until it may go (internal/governance).
		hold, err := governance.HoldFor(ctx, e.pool, r, time.Now())
		if err != nil {
			return 0, err
		}
		if hold.Holds() {
			return time.Until(hold.Until), nil
		}
	}
	pos, err := QueuePosition(ctx, e.pool, id, rev)
	if err != nil {
		return 0, err
	}
	if pos > 1 {
		return e.opts.BusyWait, nil
	}
	if wait, err := e.settleInFlight(ctx, id, rev); err != nil || wait {
		return e.opts.BusyWait, err
	}
	sub, err := SubmissionGet(ctx, e.pool, id, rev)
	if err != nil {
		return 0, err
	}
	k, kindErr := kindOf(r)
	var live *cloudapi.Cluster
	// When the read began, not when it was answered, is what it shows
	// the cluster as of (see unsettled).
	readAt := time.Now()
	if kindErr == nil {
		if live, err = e.read(ctx, r, sub, k); err != nil {
			return e.opts.backoff(1), nil // reading is safe to repeat and costs no budget
		}
	}

	var (
		a        *attempt
		again    time.Duration
		finished bool
	)
	err = pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		r, err := approvals.Lock(ctx, tx, id)
		if err != nil {
			return err
		}
		if !due(r, rev) {
			finished = true
			return nil
		}
		// Approvals that expired while it waited no longer count: back to
		// its approvers, nothing is sent (Queue puts it at the back when
		// approved again).
		returned, err := approvals.ReturnIfApprovalsExpired(ctx, tx, &r, actor)
		if err != nil {
			return err
		}
		if returned {
			finished = true
			_, err := tx.Exec(ctx, `UPDATE submissions SET approvals_expired_at = now() WHERE request_id = $1 AND revision = $2`, id, rev)
			return err
		}
		if kindErr != nil {
			finished = true
			return e.fail(ctx, tx, &r, "cannot build the API request: "+kindErr.Error(), nil)
		}
		a, again, finished, err = e.prepare(ctx, tx, &r, sub, k, live, readAt)
		return err
	})
	if err != nil || finished || a == nil {
		return again, err
	}

	a.run(ctx, e.opts.API)
	// The answer must be stored even when the run is being cancelled.
	done := context.WithoutCancel(ctx)
	err = e.store(done, func(tx pgx.Tx) error {
		r, err := approvals.Lock(done, tx, id)
		if err != nil {
			return err
		}
		again, err = e.complete(done, tx, &r, k, a)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("execution: record the answer of attempt %d of request %d (it will be reconciled): %w", a.number, id, err)
	}
	e.observe(a.outcome(k))
	return again, nil
}

// due reports whether revision rev of r still has a submission to run.
func due(r approvals.Request, rev int) bool {
	return r.Revision.Number == rev && (r.State == approvals.StateApproved || r.State == approvals.StateSubmitting)
}

// settleInFlight deals with an attempt of revision rev of request id that
// has no recorded answer: while it is younger than InFlightTimeout another
// run may still be waiting for it (wait); older, its process died or lost
// its database mid-call, so its outcome is recorded as unknown and the
// next attempt reconciles first.
func (e *Executor) settleInFlight(ctx context.Context, id int64, rev int) (wait bool, err error) {
	var young, old int
	err = e.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE started_at > now() - $3::interval), count(*) FILTER (WHERE started_at <= now() - $3::interval)
		FROM submission_attempts WHERE request_id = $1 AND revision = $2 AND outcome IS NULL`,
		id, rev, e.opts.InFlightTimeout).Scan(&young, &old)
	if err != nil || young > 0 || old == 0 {
		return young > 0, err
	}
	_, err = e.pool.Exec(ctx, `
		WITH settled AS (
			UPDATE submission_attempts SET outcome = 'unknown', finished_at = now(),
			       error = 'no answer recorded: the process stopped, or lost its database, during the call'
			WHERE request_id = $1 AND revision = $2 AND outcome IS NULL AND started_at <= now() - $3::interval
			RETURNING 1
		)
		UPDATE submissions SET outcome_unknown = true
		WHERE request_id = $1 AND revision = $2 AND EXISTS (SELECT 1 FROM settled)`, id, rev, e.opts.InFlightTimeout)
	return false, err
}

// read fetches what the next attempt needs to know about the cluster (nil:
// there is none): for a create, only after an earlier attempt, the cluster
// found by name; for a kind that sends the whole document, a GET of it;
// otherwise a GET through the inventory, which refreshes its copy.
func (e *Executor) read(ctx context.Context, r approvals.Request, sub Submission, k kind) (*cloudapi.Cluster, error) {
	switch {
	case createsCluster(r):
		if !mayBeApplied(r, sub) {
			return nil, nil
		}
		found, err := e.byName(ctx, r.ClusterName)
		if err != nil || len(found) == 0 {
			return nil, err
		}
		return &found[0], nil
	case k.wholeDocument:
		c, err := e.opts.API.GetCluster(ctx, r.ClusterUID)
		if cloudapi.IsNotFound(err) {
			return nil, nil
		}
		return c, err
	}
	c, err := e.opts.Inventory.Refresh(ctx, r.ClusterUID)
	if errors.Is(err, inventory.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	status := c.Status
	status.ResourceVersion = c.ResourceVersion
	return &cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{UID: c.UID, Name: c.Name}, Spec: c.Spec, Status: &status}, nil
}

// byName lists the readable clusters named name.
func (e *Executor) byName(ctx context.Context, name string) ([]cloudapi.Cluster, error) {
	clusters, err := e.opts.API.ListClusters(ctx)
	if err != nil {
		return nil, err
	}
	var found []cloudapi.Cluster
	for _, c := range clusters {
		if c.Metadata.Name == name && c.Unreadable == "" {
			found = append(found, c)
		}
	}
	return found, nil
}

// mayBeApplied reports whether an earlier attempt may have applied r's
// change: one of unknown outcome, or any earlier attempt at all, since a
// client that retries inside one call (a dropped answer, then 409 from the
// change it applied) can hide an unknown outcome behind a known one.
func mayBeApplied(r approvals.Request, sub Submission) bool {
	return sub.OutcomeUnknown || r.State == approvals.StateSubmitting
}

// store runs fn in a transaction, trying again for a while when the
// database cannot be reached: an answer that came back must not be lost
// to a short database outage.
func (e *Executor) store(ctx context.Context, fn func(pgx.Tx) error) error {
	deadline := time.Now().Add(e.opts.InFlightTimeout / 4)
	for {
		err := pgx.BeginFunc(ctx, e.pool, fn)
		if err == nil || !unreachable(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Second)
	}
}
