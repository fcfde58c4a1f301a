package execution

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// prepare decides, under r's row lock, what this run does: nothing more
// (finished), reconcile, wait (again), or send the returned attempt, which
// it records first. live is the cluster as read from readAt on.
func (e *Executor) prepare(ctx context.Context, tx pgx.Tx, r *approvals.Request, sub Submission, k kind, live *cloudapi.Cluster, readAt time.Time) (*attempt, time.Duration, bool, error) {
	b := e.opts.Behaviour
	if mayBeApplied(*r, sub) {
		applied, err := k.applied(*r, live, b)
		if err != nil {
			return nil, 0, false, err
		}
		if applied {
			return nil, 0, true, e.reconciled(ctx, tx, r, live)
		}
		if sub.OutcomeUnknown {
			// Not there yet: the lost call may still land. Look again
			// until a read begun after the settle time (since the call)
			// still misses it.
			left, err := e.unsettled(ctx, tx, *r, readAt)
			if err != nil {
				return nil, 0, false, err
			}
			if left > 0 {
				return nil, min(left, e.opts.backoff(sub.LastAttempt)), false, nil
			}
			if !k.sendsAgain {
				return nil, 0, true, e.needsPerson(ctx, tx, r, fmt.Sprintf(
					"outcome unknown — needs a person: the answer to the call was lost and no cluster named %q appeared within %s. Look in Cloud Manager: if the cluster is there, it was created; if not, an admin may send the request again",
					r.ClusterName, e.opts.SettleTime))
			}
		}
	}
	if !createsCluster(*r) {
		if live == nil {
			return nil, 0, true, e.fail(ctx, tx, r, "the cluster no longer exists", nil)
		}
		if rv := live.Status.ResourceVersion; rv != r.Revision.BaseResourceVersion {
			// The cluster moved and (reconciled above) the change is not
			// there: back to the requester to rebase, nothing is sent.
			submitting := r.State == approvals.StateSubmitting
			if err := approvals.MarkStale(ctx, tx, r, rv, actor); err != nil {
				return nil, 0, true, err
			}
			if submitting {
				// Versions seen while the submission was open are not its own.
				return nil, 0, true, settleVersions(ctx, tx, *r, "")
			}
			return nil, 0, true, nil
		}
	}
	var counted, inFlight, n int
	err := tx.QueryRow(ctx, `
		SELECT count(a.attempt) FILTER (WHERE a.outcome = 'unknown' AND a.attempt > s.attempt_floor),
		       count(a.attempt) FILTER (WHERE a.outcome IS NULL), coalesce(max(a.attempt), 0)
		FROM submissions s LEFT JOIN submission_attempts a USING (request_id, revision)
		WHERE s.request_id = $1 AND s.revision = $2
		GROUP BY s.attempt_floor`, r.ID, r.Revision.Number).Scan(&counted, &inFlight, &n)
	switch {
	case err != nil:
		return nil, 0, false, err
	case inFlight > 0:
		// An overlapping run (a rescued job's zombie) is in the middle of a
		// call: never send a second one beside it.
		return nil, e.opts.BusyWait, false, nil
	case n != sub.LastAttempt:
		// An overlapping run made an attempt after this run read the
		// cluster: what it read may not show that attempt's effect.
		return nil, e.opts.BusyWait, false, nil
	case counted >= e.opts.MaxAttempts:
		var last string
		_ = tx.QueryRow(ctx, `SELECT error FROM submission_attempts WHERE request_id = $1 AND revision = $2
			ORDER BY attempt DESC LIMIT 1`, r.ID, r.Revision.Number).Scan(&last)
		return nil, 0, true, e.fail(ctx, tx, r, fmt.Sprintf("abandoned after %d failed attempts: %s", counted, last), nil)
	}
	c, err := k.send(*r, live, b)
	if err != nil {
		return nil, 0, true, e.fail(ctx, tx, r, "cannot build the API request: "+err.Error(), nil)
	}
	a := newAttempt(c, n+1)
	if r.State == approvals.StateApproved {
		if err := approvals.SetState(ctx, tx, r, approvals.StateSubmitting); err != nil {
			return nil, 0, false, err
		}
		if err := appendEvent(ctx, tx, *r, audit.SubmissionStarted, map[string]any{
			"operation": a.operation, "request_digest": fmt.Sprintf("%x", a.digest), "hard_update": r.Revision.Payload.HardUpdate}); err != nil {
			return nil, 0, false, err
		}
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO submission_attempts (request_id, revision, attempt, operation, request_digest)
		VALUES ($1, $2, $3, $4, $5)`, r.ID, r.Revision.Number, a.number, a.operation, a.digest[:])
	if err != nil {
		return nil, 0, false, err
	}
	return a, 0, false, nil
}

// unsettled is how long the settle time still ran, when the cluster was
// read at readAt, after r's latest attempt of unknown outcome (since the
// last resend); zero when it had passed. A read begun before the settle
// time ended may not show a call that landed since, however late its
// answer came (a slow API is when calls land late): it never proves the
// change missing. The settle time runs by the database's clock, which
// stamped the attempt, and the read's age by this process's; now() is
// when this transaction began, after the read, so the sum errs long.
func (e *Executor) unsettled(ctx context.Context, tx pgx.Tx, r approvals.Request, readAt time.Time) (time.Duration, error) {
	var left *time.Duration
	err := tx.QueryRow(ctx, `
		SELECT max(a.started_at) + $3::interval - now()
		FROM submissions s JOIN submission_attempts a USING (request_id, revision)
		WHERE s.request_id = $1 AND s.revision = $2 AND a.outcome = 'unknown' AND a.attempt > s.attempt_floor`,
		r.ID, r.Revision.Number, e.opts.SettleTime).Scan(&left)
	if err != nil || left == nil {
		return 0, err
	}
	return max(*left+time.Since(readAt), 0), nil
}

// unreachable reports whether err is the database being out of reach
// rather than a statement it refused.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	_, refused := errors.AsType[*pgconn.PgError](err)
	return !refused
}
