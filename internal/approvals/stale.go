package approvals

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// ClusterChanged is an inventory.ChangeHook: every pending or approved
// request on a cluster whose resource version moved away from the
// request's base (or that was deleted) becomes stale, with a request.stale
// event by the system. Its approvals stop counting when it is rebased (a
// new revision); until then nobody can approve it. Requests on other
// clusters, and changes of status only, are left alone.
//
// It also attributes each new version (SettleVersions): to the request
// whose submission produced it, or else to a change outside Clusterdesk,
// recorded as a drift with a cluster.drift_detected event.
//
// Lock order, the same in every transaction that touches these: the
// affected requests (in id order), then the cluster's versions
// (SettleVersions), then the audit log (whose head lock is global). The
// worker holds at most its own request when it settles versions, so a
// sync never waits for a request while holding a versions lock, and
// nobody waits for a versions lock while holding the audit log.
func ClusterChanged(ctx context.Context, tx pgx.Tx, changes []inventory.Change) error {
	stale, err := lockStaleCandidates(ctx, tx, changes)
	if err != nil {
		return err
	}
	drifts, err := settleChanged(ctx, tx, changes)
	if err != nil {
		return err
	}
	if err := stale.mark(ctx, tx); err != nil {
		return err
	}
	if err := recordDrifts(ctx, tx, drifts); err != nil {
		return fmt.Errorf("approvals: record drift: %w", err)
	}
	return nil
}

// staleCandidates are the locked open requests on clusters whose version
// moved, with the change of each cluster.
type staleCandidates struct {
	ids  []int64
	live map[string]inventory.Change
}

// lockStaleCandidates locks, in id order, every pending or approved request
// on a cluster in changes whose version moved.
func lockStaleCandidates(ctx context.Context, tx pgx.Tx, changes []inventory.Change) (staleCandidates, error) {
	sc := staleCandidates{live: map[string]inventory.Change{}}
	var uids []string
	for _, c := range changes {
		if c.VersionMoved() {
			sc.live[c.UID] = c
			uids = append(uids, c.UID)
		}
	}
	if len(uids) == 0 {
		return sc, nil
	}
	rows, err := tx.Query(ctx, `
		SELECT id FROM change_requests
		WHERE cluster_uid = ANY($1) AND state IN ('pending', 'approved')
		ORDER BY id FOR UPDATE`, uids)
	if err != nil {
		return sc, fmt.Errorf("approvals: mark stale: %w", err)
	}
	if sc.ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return sc, fmt.Errorf("approvals: mark stale: %w", err)
	}
	return sc, nil
}

// mark makes each candidate whose base is not the cluster's new version
// stale, with its audit event and hook's (when set).
func (sc staleCandidates) mark(ctx context.Context, tx pgx.Tx) error {
	for _, id := range sc.ids {
		r, err := Get(ctx, tx, id)
		if err != nil {
			return err
		}
		c := sc.live[r.ClusterUID]
		if c.Kind != inventory.ChangeDeleted && c.ResourceVersion == r.Revision.BaseResourceVersion {
			continue // e.g. a request filed on the new version already
		}
		if err := markStale(ctx, tx, &r, c.ResourceVersion, systemActor, audit.Origin{}); err != nil {
			return fmt.Errorf("approvals: mark request %d stale: %w", id, err)
		}
	}
	return nil
}

// markStale moves r (locked) to stale and records why.
func markStale(ctx context.Context, tx pgx.Tx, r *Request, live int64, actor audit.Actor, origin audit.Origin) error {
	from := r.State
	if err := requestSetState(ctx, tx, r, StateStale); err != nil {
		return err
	}
	_, err := audit.Append(ctx, tx, audit.Event{
		Actor: actor, Action: audit.RequestStale, Origin: origin,
		Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
		Data: map[string]any{
			"cluster_uid": r.ClusterUID, "cluster_name": r.ClusterName, "revision": r.Revision.Number,
			"base_resource_version": r.Revision.BaseResourceVersion, "live_resource_version": live,
			"previous_state": string(from),
		},
	})
	return err
}

// Expire ends every pending or stale request that has not changed since
// before cutoff (state expired, request.expired by the system), and returns
// how many. Requests locked by someone else right now are left for the next
// run. Approved requests are not expired here: their execution decides.
func (s *Service) Expire(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT id FROM change_requests
			WHERE state IN ('pending', 'stale') AND updated_at < $1
			ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED`, cutoff)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, id := range ids {
			r, err := Get(ctx, tx, id)
			if err != nil {
				return err
			}
			from := r.State
			if err := requestSetState(ctx, tx, &r, StateExpired); err != nil {
				return err
			}
			_, err = audit.Append(ctx, tx, audit.Event{
				Actor: systemActor, Action: audit.RequestExpired,
				Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
				Data: map[string]any{"cluster_uid": r.ClusterUID, "cluster_name": r.ClusterName,
					"revision": r.Revision.Number, "previous_state": string(from), "cutoff": cutoff.UTC()},
			})
			if err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("approvals: expire requests: %w", err)
	}
	return n, nil
}
