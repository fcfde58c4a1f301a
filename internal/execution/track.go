package execution

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Track reads the cluster of the accepted revision rev of request id once
// through the inventory (which refreshes its copy and announces the
// cluster), copies its new events, records the update's progress, and ends
// the request when the cluster has converged (succeeded) or cannot
// (failed). It returns how long to wait before tracking again (zero: done).
func (e *Executor) Track(ctx context.Context, id int64, rev int) (time.Duration, error) {
	r, err := approvals.Get(ctx, e.pool, id)
	if err != nil {
		return 0, err
	}
	if r.Revision.Number != rev || r.State != approvals.StateApplying {
		return 0, nil
	}
	sub, err := SubmissionGet(ctx, e.pool, id, rev)
	if err != nil {
		return 0, err
	}
	k, err := kindOf(r)
	if err != nil {
		return 0, err
	}
	if sub.ClusterUID == "" {
		// A create accepted without the cluster's uid (an empty reply, or
		// one found by name in a lost answer): find it by name.
		return e.findCreated(ctx, r, sub)
	}
	c, err := e.opts.Inventory.Refresh(ctx, sub.ClusterUID)
	gone := errors.Is(err, inventory.ErrNotFound)
	if err != nil && !gone {
		return e.opts.TrackInterval, nil // reading again is the retry
	}
	done, failure := e.verdict(r, sub, k, c, gone)
	if done && createsCluster(r) {
		// A create sent more than once could have made two clusters:
		// look before calling it done.
		if twins, err := e.byName(ctx, r.ClusterName); err != nil {
			return e.opts.TrackInterval, nil
		} else if len(twins) > 1 {
			return 0, e.endTracking(ctx, id, rev, func(tx pgx.Tx, r *approvals.Request) error {
				return e.needsPerson(ctx, tx, r, fmt.Sprintf("two clusters are named %q in Cloud Manager (%s and %s): a call whose answer was lost may have landed late. A person must decide which to keep",
					r.ClusterName, twins[0].Metadata.UID, twins[1].Metadata.UID))
			})
		}
	}

	var finished bool
	err = pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		r, err := approvals.Lock(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.Revision.Number != rev || r.State != approvals.StateApplying {
			finished = true
			return nil
		}
		if createsCluster(r) && !gone {
			if r, err = approvals.AttachCluster(ctx, tx, id, sub.ClusterUID); err != nil {
				return err
			}
		}
		if !gone {
			if err := recordProgress(ctx, tx, r, sub, c); err != nil {
				return err
			}
		}
		switch {
		case done:
			finished = true
			return e.finish(ctx, tx, &r, c, gone)
		case failure != "":
			finished = true
			return e.fail(ctx, tx, &r, failure, nil)
		case !sub.AcceptedAt.IsZero() && time.Since(sub.AcceptedAt) > e.opts.TrackTimeout:
			finished = true
			return e.fail(ctx, tx, &r, fmt.Sprintf("the cluster had not converged %s after the change was accepted; last events: %s",
				e.opts.TrackTimeout, lastEvents(c)), nil)
		}
		return nil
	})
	if err != nil || finished {
		return 0, err
	}
	return e.opts.TrackInterval, nil
}

// verdict says whether c (gone: the API no longer has it) shows r's change
// done, or why it never will. Convergence is a rule: the cluster is not
// busy, no update is in progress, it is healthy, and the kind's own test
// holds (see kinds). A cluster that settles unhealthy, or disappears under
// a change other than a delete, never converges.
func (e *Executor) verdict(r approvals.Request, sub Submission, k kind, c inventory.Cluster, gone bool) (done bool, failure string) {
	b := e.opts.Behaviour
	if gone || k.notFoundIsDone {
		if k.converged(r, sub, c, gone, b) {
			return true, ""
		}
		if gone {
			return false, "the cluster disappeared while the change was applied"
		}
		return false, ""
	}
	state := c.Status.State
	if b.Busy(state) || c.Status.UpdateState != nil {
		return false, ""
	}
	if h := c.Status.Status; h != "" && !b.Healthy(h) {
		return false, fmt.Sprintf("the cluster settled in state %s with status %s; last events: %s", state, h, lastEvents(c))
	}
	return k.converged(r, sub, c, gone, b), ""
}

// finish marks r succeeded.
func (e *Executor) finish(ctx context.Context, tx pgx.Tx, r *approvals.Request, c inventory.Cluster, gone bool) error {
	if _, err := tx.Exec(ctx, `UPDATE submissions SET finished_at = now() WHERE request_id = $1 AND revision = $2`,
		r.ID, r.Revision.Number); err != nil {
		return err
	}
	if err := approvals.SetState(ctx, tx, r, approvals.StateSucceeded); err != nil {
		return err
	}
	// Versions seen while the change was applied and not yet attributed
	// are settled now that nothing of this request is in flight.
	if err := settleVersions(ctx, tx, *r, c.UID); err != nil {
		return err
	}
	data := map[string]any{"converged": true}
	if !gone {
		data["cluster_state"] = string(c.State)
		data["resource_version"] = c.ResourceVersion
	}
	return appendEvent(ctx, tx, *r, audit.SubmissionApplied, data)
}

// findCreated looks up by name the cluster of a create accepted without
// its uid, records the uid when exactly one is found, and tracks on. None
// found within the settle time after acceptance, or two, need a person.
func (e *Executor) findCreated(ctx context.Context, r approvals.Request, sub Submission) (time.Duration, error) {
	found, err := e.byName(ctx, r.ClusterName)
	if err != nil {
		return e.opts.TrackInterval, nil
	}
	switch {
	case len(found) == 1:
		_, err := e.pool.Exec(ctx, `UPDATE submissions SET cluster_uid = $3 WHERE request_id = $1 AND revision = $2 AND cluster_uid IS NULL`,
			r.ID, sub.Revision, found[0].Metadata.UID)
		return time.Millisecond, err // track it at once
	case len(found) > 1:
		return 0, e.endTracking(ctx, r.ID, sub.Revision, func(tx pgx.Tx, r *approvals.Request) error {
			return e.needsPerson(ctx, tx, r, fmt.Sprintf("the create was accepted without naming its cluster, and %d clusters are named %q: a person must decide which is this request's", len(found), r.ClusterName))
		})
	case time.Since(sub.AcceptedAt) < e.opts.SettleTime:
		return e.opts.TrackInterval, nil
	}
	return 0, e.endTracking(ctx, r.ID, sub.Revision, func(tx pgx.Tx, r *approvals.Request) error {
		return e.needsPerson(ctx, tx, r, fmt.Sprintf("outcome unknown — needs a person: the API accepted the create without naming its cluster, and no cluster named %q appeared within %s", r.ClusterName, e.opts.SettleTime))
	})
}

// endTracking runs end on request id, locked, if revision rev is still
// being applied.
func (e *Executor) endTracking(ctx context.Context, id int64, rev int, end func(pgx.Tx, *approvals.Request) error) error {
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		r, err := approvals.Lock(ctx, tx, id)
		if err != nil || r.Revision.Number != rev || r.State != approvals.StateApplying {
			return err
		}
		return end(tx, &r)
	})
}
