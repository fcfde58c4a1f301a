package execution

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/governance"
)

// Queue puts the approved revision of r in its cluster's queue (approval
// order), in the approving transaction tx, and inserts its submit job
// with jobs, so that the approval and its execution commit or roll back
// together. Queueing the same revision again does nothing more, except
// after its approvals expired before it was sent (Submit): approved
// afresh, it goes to the back of the queue with a submit job of its own.
func Queue(ctx context.Context, tx pgx.Tx, jobs Jobs, r approvals.Request) error {
	if _, err := kindOf(r); err != nil {
		return fmt.Errorf("execution: queue request %d: %w", r.ID, err)
	}
	key := r.ClusterUID
	if createsCluster(r) {
		key = "name:" + r.ClusterName
	}
	var requeue int
	err := tx.QueryRow(ctx, `
		WITH queued AS (
			INSERT INTO submissions (request_id, revision, cluster_key, cluster_uid)
			VALUES ($1, $2, $3, nullif($4, ''))
			ON CONFLICT (request_id, revision) DO UPDATE
			SET seq = DEFAULT, requeues = submissions.requeues + 1, approvals_expired_at = NULL, approved_at = now()
			WHERE submissions.approvals_expired_at IS NOT NULL
			RETURNING requeues
		)
		SELECT requeues FROM queued
		UNION ALL
		SELECT requeues FROM submissions WHERE request_id = $1 AND revision = $2 AND NOT EXISTS (SELECT FROM queued)`,
		r.ID, r.Revision.Number, key, r.ClusterUID).Scan(&requeue)
	if err != nil {
		return fmt.Errorf("execution: queue request %d: %w", r.ID, err)
	}
	// Outside its change window or in a freeze, the job is scheduled for
	// the moment it may be sent (Submit checks again then).
	hold, err := governance.HoldFor(ctx, tx, r, time.Now())
	if err != nil {
		return fmt.Errorf("execution: queue request %d: %w", r.ID, err)
	}
	if at, ok := jobs.(ScheduledJobs); ok && hold.Holds() {
		err = at.SubmitAt(ctx, tx, r.ID, r.Revision.Number, requeue, hold.Until)
	} else {
		err = jobs.Submit(ctx, tx, r.ID, r.Revision.Number, 0, requeue)
	}
	if err != nil {
		return fmt.Errorf("execution: enqueue request %d: %w", r.ID, err)
	}
	return nil
}

// ScheduledJobs are Jobs that can insert a submit job to run at a given
// time (River's ScheduledAt): the worker's. Queue uses it for a change
// that waits for its window.
type ScheduledJobs interface {
	SubmitAt(ctx context.Context, tx pgx.Tx, id int64, rev, requeue int, at time.Time) error
}

// ErrAccepted refuses to resend a change that Cloud Manager accepted: it
// reached the cluster (and failed there), so sending it again is a new
// decision: a new request, or a rollback.
var ErrAccepted = fmt.Errorf("%w: Cloud Manager accepted this change, so it is not sent again; file a new request instead", approvals.ErrInvalidTransition)

// ResendFunc sends failed request id again on behalf of admin a (Resend
// bound to a pool and a job queue).
type ResendFunc func(ctx context.Context, a approvals.Actor, id int64, comment string) (approvals.Request, error)

// Resend sends a failed change again: an admin's decision, audited with
// their comment. Only a change the API never accepted is resent (its
// submission was abandoned after the retry budget, refused, or stopped
// for a person with its outcome unknown): the request goes back to
// approved with a fresh attempt budget and a new submit job, which like
// any other first re-reads the cluster (a cluster that moved meanwhile
// makes the request stale; nothing is sent).
//
// Errors: approvals.ErrForbidden (not an admin), approvals.ErrNotFound,
// approvals.ErrInvalidTransition (not failed), ErrAccepted.
func Resend(ctx context.Context, pool *pgxpool.Pool, jobs Jobs, a approvals.Actor, id int64, comment string) (approvals.Request, error) {
	var r approvals.Request
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if !a.Admin {
			return fmt.Errorf("%w: only an admin may send a failed change again", approvals.ErrForbidden)
		}
		// The request first, as Submit locks it: a concurrent resend
		// waits here and then finds it approved.
		var err error
		if r, err = approvals.Lock(ctx, tx, id); err != nil {
			return err
		}
		if r.State != approvals.StateFailed {
			// Never a way around approval: pending → approved is the
			// approvers' transition, not this one.
			return fmt.Errorf("%w: only a failed request is sent again, this one is %s", approvals.ErrInvalidTransition, r.State)
		}
		var accepted bool
		var resends, requeues, floor int
		err = tx.QueryRow(ctx, `
			SELECT s.accepted_at IS NOT NULL, s.resends, s.requeues,
			       (SELECT coalesce(max(attempt), 0) FROM submission_attempts x
			        WHERE x.request_id = s.request_id AND x.revision = s.revision)
			FROM submissions s WHERE request_id = $1 AND revision = $2`, id, r.Revision.Number).Scan(&accepted, &resends, &requeues, &floor)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("%w: request %d was never submitted", approvals.ErrInvalidTransition, id)
		case err != nil:
			return err
		case accepted:
			return ErrAccepted
		}
		if err := approvals.SetState(ctx, tx, &r, approvals.StateApproved); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE submissions SET resends = resends + 1, attempt_floor = $3, outcome_unknown = false, needs_person = false,
			       reason = '', field_errors = '[]', finished_at = NULL
			WHERE request_id = $1 AND revision = $2`, id, r.Revision.Number, floor)
		if err != nil {
			return err
		}
		if err := jobs.Submit(ctx, tx, id, r.Revision.Number, resends+1, requeues); err != nil {
			return err
		}
		data := map[string]any{"resend": resends + 1, "revision": r.Revision.Number, "kind": string(r.Kind), "cluster_name": r.ClusterName}
		if c := strings.TrimSpace(comment); c != "" {
			data["comment"] = c
		}
		actor := audit.User(strconv.FormatInt(a.UserID, 10), a.Name)
		_, err = audit.Append(ctx, tx, audit.Event{
			Actor: actor, Action: audit.SubmissionResent, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: strconv.FormatInt(id, 10)}, Data: data,
		})
		return err
	})
	if err != nil {
		return approvals.Request{}, fmt.Errorf("execution: resend request %d: %w", id, err)
	}
	return r, nil
}
