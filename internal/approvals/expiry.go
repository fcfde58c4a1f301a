package approvals

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// ReasonApprovalsExpired is the reason of the request.updated event that
// sends an approved request back to pending because its approvals expired.
const ReasonApprovalsExpired = "approvals expired"

// ReturnIfApprovalsExpired checks, before an approved change is sent,
// that its approvals still meet the policy that applies now, counting
// only those younger than the policy's ApprovalMaxAge. If some expired and
// those left fall short, r (approved, locked by the caller with Lock) goes
// back to pending in tx, with a request.updated event by actor whose
// reason is ReasonApprovalsExpired, and returned is true: its approvers
// renew their approvals (Approve), and the approval that meets the policy
// again queues it anew. A request in another state, or with no expired
// approval (a policy raised since it was approved does not take its
// approval back), or under no policy now, is left alone.
func ReturnIfApprovalsExpired(ctx context.Context, tx pgx.Tx, r *Request, actor audit.Actor) (returned bool, err error) {
	if r.State != StateApproved {
		return false, nil
	}
	e, err := evaluate(ctx, tx, *r)
	if errors.Is(err, ErrNoPolicy) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(e.Expired) == 0 || e.Complete() {
		return false, nil
	}
	if err := requestSetState(ctx, tx, r, StatePending); err != nil {
		return false, fmt.Errorf("approvals: return request %d to pending: %w", r.ID, err)
	}
	expired := make([]map[string]any, 0, len(e.Expired))
	for _, a := range e.Expired {
		expired = append(expired, map[string]any{
			"approver": a.Approver.Name, "approver_id": a.Approver.ID, "expired_at": a.ExpiresAt(e.Policy).UTC().Format(time.RFC3339),
		})
	}
	_, err = audit.Append(ctx, tx, audit.Event{
		Actor: actor, Action: audit.RequestUpdated,
		Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
		Data: map[string]any{
			"reason": ReasonApprovalsExpired, "previous_state": string(StateApproved), "state": string(StatePending),
			"revision": r.Revision.Number, "kind": string(r.Kind), "cluster_name": r.ClusterName,
			"policy": e.Policy.Name, "approval_max_age": e.Policy.ApprovalMaxAge.String(),
			"approvals": e.Given(), "approvals_needed": e.Needed(), "expired_approvals": expired,
		},
	})
	if err != nil {
		return false, fmt.Errorf("approvals: return request %d to pending: %w", r.ID, err)
	}
	return true, nil
}
