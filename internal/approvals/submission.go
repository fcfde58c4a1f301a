package approvals

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// AttachCluster records uid as the cluster a create request made, once the
// cluster is in the inventory (the column references it), and announces
// the request. Only a create request without a cluster may be attached;
// attaching the same uid again changes nothing. Errors: ErrNotFound,
// ErrConflict.
func AttachCluster(ctx context.Context, tx pgx.Tx, id int64, uid string) (Request, error) {
	r, err := requestLock(ctx, tx, id)
	if err != nil {
		return Request{}, fmt.Errorf("approvals: attach cluster to request %d: %w", id, err)
	}
	if r.ClusterUID == uid {
		return r, nil
	}
	if r.Kind.OnCluster() || r.ClusterUID != "" {
		return Request{}, fmt.Errorf("approvals: attach cluster to request %d: %w: it is a %s request on %q",
			id, ErrConflict, r.Kind, r.ClusterUID)
	}
	if _, err := tx.Exec(ctx, "UPDATE change_requests SET cluster_uid = $2 WHERE id = $1", id, uid); err != nil {
		return Request{}, fmt.Errorf("approvals: attach cluster to request %d: %w", id, err)
	}
	r.ClusterUID = uid
	if err := notifyRequest(ctx, tx, r); err != nil {
		return Request{}, fmt.Errorf("approvals: attach cluster to request %d: %w", id, err)
	}
	return r, nil
}

// Lock reads request id with its current revision and locks its row until
// tx ends, as every change of a request does; the worker takes it before
// deciding what to do with an approved request. Errors: ErrNotFound.
func Lock(ctx context.Context, tx pgx.Tx, id int64) (Request, error) {
	r, err := requestLock(ctx, tx, id)
	if err != nil {
		return Request{}, fmt.Errorf("approvals: lock request %d: %w", id, err)
	}
	return r, nil
}

// MarkStale moves request id (locked by the caller with Lock) from approved
// (or submitting, between attempts) to stale because the live cluster is at version live, with a
// request.stale event by actor: the worker found the cluster moved before
// submitting. Errors: ErrInvalidTransition.
func MarkStale(ctx context.Context, tx pgx.Tx, r *Request, live int64, actor audit.Actor) error {
	if err := markStale(ctx, tx, r, live, actor, audit.Origin{}); err != nil {
		return fmt.Errorf("approvals: mark request %d stale: %w", r.ID, err)
	}
	return nil
}
