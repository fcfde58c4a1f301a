package approvals

import (
	"context"
	"errors"
	"fmt"

	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// ErrNotPermitted: the governance rules (teams, ownership) do not let the
// actor do this on this cluster. The error is a *Refusal that says what
// would grant it.
var ErrNotPermitted = fmt.Errorf("%w: not permitted on this cluster", ErrForbidden)

// Refusal is a permission the governance rules refuse, with the reason in
// words people act on ("deletes on team payments' clusters need a member
// of payments-leads"). It matches ErrNotPermitted (and ErrForbidden).
type Refusal struct {
	Reason string
}

func (r *Refusal) Error() string { return ErrNotPermitted.Error() + ": " + r.Reason }
func (r *Refusal) Unwrap() error { return ErrNotPermitted }

// RefusalReason returns the reason of a *Refusal in err's chain, or "".
func RefusalReason(err error) string {
	if r, ok := errors.AsType[*Refusal](err); ok {
		return r.Reason
	}
	return ""
}

// Permissions decide who may request and approve which change on which
// cluster; internal/governance implements it. The service asks it when a
// request is filed and when one is approved (Create, Approve), and the web
// pages and the API ask the service (MayRequest), so that one rule holds
// everywhere. Each method returns nil or a *Refusal; any other error is a
// failure of the database.
type Permissions interface {
	MayRequest(ctx context.Context, q Querier, a Actor, c inventory.Cluster, kind Kind) error
	MayApprove(ctx context.Context, q Querier, a Actor, c inventory.Cluster, r Request, e Evaluation) error
}

// MayRequest returns nil when a may file a request of kind on cluster c,
// else a *Refusal (ErrNotPermitted) saying what would grant it. Without
// Config.Permissions everyone with the requester role may.
func (s *Service) MayRequest(ctx context.Context, a Actor, c inventory.Cluster, kind Kind) error {
	if s.permissions == nil {
		return nil
	}
	return s.permissions.MayRequest(ctx, s.pool, a, c, kind)
}

// MayApprove returns nil when the governance rules let a approve request
// r (evaluated as e), else a *Refusal. The policy's own rules (four-eyes,
// approver groups) are Requirements.Blocker's.
func (s *Service) MayApprove(ctx context.Context, a Actor, r Request, e Evaluation) error {
	if s.permissions == nil || !r.Kind.OnCluster() {
		return nil
	}
	c, err := inventory.ClusterGet(ctx, s.pool, r.ClusterUID)
	if err != nil {
		return fmt.Errorf("approvals: may approve request %d: %w", r.ID, err)
	}
	return s.permissions.MayApprove(ctx, s.pool, a, c, r, e)
}

// MayRevise returns nil when a may edit or rebase request r as it stands:
// the permission function lets them file it now (Edit and Rebase check
// the new revision the same way), else a *Refusal. The request page asks
// it before offering the edit and rebase buttons.
func (s *Service) MayRevise(ctx context.Context, a Actor, r Request) error {
	return s.permitDraft(ctx, s.pool, a, draft{kind: r.Kind, clusterUID: r.ClusterUID, clusterName: r.ClusterName, revision: r.Revision})
}

// permitApprove is MayApprove inside Approve's transaction.
func (s *Service) permitApprove(ctx context.Context, q Querier, a Actor, r Request, e Evaluation) error {
	if s.permissions == nil || !r.Kind.OnCluster() {
		return nil
	}
	c, err := inventory.ClusterGet(ctx, q, r.ClusterUID)
	if err != nil {
		return err
	}
	return s.permissions.MayApprove(ctx, q, a, c, r, e)
}

// permitDraft is MayRequest for a request about to be filed: the cluster
// from the inventory, or for a create the new cluster as the classifier
// places it.
func (s *Service) permitDraft(ctx context.Context, q Querier, a Actor, d draft) error {
	if s.permissions == nil {
		return nil
	}
	var c inventory.Cluster
	if d.clusterUID != "" {
		var err error
		if c, err = inventory.ClusterGet(ctx, q, d.clusterUID); err != nil {
			return err
		}
	} else {
		c.Name = d.clusterName
		if d.revision.ProposedSpec != nil {
			c.Spec = *d.revision.ProposedSpec
		}
		c.Environment, c.Team = s.classifier.Classify(c.Name, c.Spec)
	}
	return s.permissions.MayRequest(ctx, q, a, c, d.kind)
}
