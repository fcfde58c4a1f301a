package approvals

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Edit is a new revision of a request. Like NewRequest it has no state or
// requester fields. The kind and the cluster of a request never change.
type Edit struct {
	// Revision is the revision the editor started from; when the request
	// has moved on since, the edit is refused (ErrConflict) rather than
	// overwrite someone else's revision.
	Revision int
	// Reason replaces the reason; required.
	Reason string
	// Name renames the cluster to be; create only ("" keeps it).
	Name string
	// Spec replaces the proposed spec (create, update). Nil keeps the
	// proposal: for update, the same changes re-applied to the cluster's
	// current spec (as Rebase does).
	Spec *cloudapi.ClusterSpec
	// InstanceID replaces the server to restart ("" keeps it).
	InstanceID string
	// SeenResourceVersion is the cluster version the form was built from;
	// required with an update Spec (see NewRequest).
	SeenResourceVersion *int64
	// HardUpdate is the new revision's choice of a hard update (see
	// NewRequest): an edit always states it, so leaving it false drops an
	// earlier choice.
	HardUpdate bool
}

// Edit makes a new revision of request id from in. Its base is the
// cluster as the inventory has it now, so an edit also rebases. Earlier
// approvals stop counting (they are bound to the old revision) and a stale
// request becomes pending again. The editor becomes an author: four-eyes
// keeps them from approving.
//
// Who may edit: the requester, or an admin (for example to rebase the
// request of someone who is away); the decision is audited with the
// editor's name. The editor must also be allowed to file the request now
// (Config.Permissions, as Create): someone whose team or ownership changed
// cannot edit a request into being. Errors: ErrForbidden (ErrNotPermitted,
// a *Refusal, from the permissions), ErrInvalidTransition (only pending
// and stale requests change), ErrConflict (in.Revision is not current),
// and Create's validation errors.
func (s *Service) Edit(ctx context.Context, a Actor, id int64, in Edit) (Request, error) {
	r, err := s.revise(ctx, a, id, in.Revision, audit.RequestUpdated, func(q Querier, r Request) (proposal, error) {
		p := proposal{kind: r.Kind, clusterUID: r.ClusterUID, name: in.Name, reason: in.Reason,
			spec: in.Spec, instanceID: in.InstanceID, seen: in.SeenResourceVersion, hardUpdate: in.HardUpdate}
		if p.name == "" {
			p.name = r.ClusterName
		}
		if p.instanceID == "" {
			p.instanceID = r.Revision.Payload.InstanceID
		}
		if r.Kind == KindRollback && p.spec != nil {
			return proposal{}, fmt.Errorf("%w: a rollback restores a version; file a replace request to write a spec", ErrInvalid)
		}
		if p.spec == nil {
			return carryOver(ctx, q, r, p)
		}
		return p, nil
	})
	if err != nil {
		return Request{}, fmt.Errorf("approvals: edit request %d: %w", id, err)
	}
	return r, nil
}

// Rebase makes a new revision of request id on the cluster's current
// version in the inventory, keeping the reason and re-applying the same
// changes: for update, the merge patch from the old base to the old
// proposal applied to the current spec; for stop and start, the current
// spec with the desired state; for rollback, the same version restored
// onto the current spec (the fields not restored taken from it again);
// for replace, the same whole spec; delete and restart need no spec; the
// choice of a hard update is kept (the API is asked again when an
// approver opens the request). The
// new revision records the diff of diffs (Revision.Changes). Refresh the
// cluster in the inventory first. Earlier approvals stop counting; a stale
// request becomes pending. Who may: as Edit (the permissions included).
// Errors: Edit's; ErrInvalid for
// create requests (they have no base); ErrNoChange when the cluster already
// has the proposed changes (cancel the request then).
func (s *Service) Rebase(ctx context.Context, a Actor, id int64) (Request, error) {
	r, err := s.revise(ctx, a, id, 0, audit.RequestRebased, func(q Querier, r Request) (proposal, error) {
		if !r.Kind.OnCluster() {
			return proposal{}, fmt.Errorf("%w: a create request has no base to rebase", ErrInvalid)
		}
		p := proposal{kind: r.Kind, clusterUID: r.ClusterUID, name: r.ClusterName, reason: r.Revision.Reason,
			instanceID: r.Revision.Payload.InstanceID, hardUpdate: r.Revision.Payload.HardUpdate}
		return carryOver(ctx, q, r, p)
	})
	if err != nil {
		return Request{}, fmt.Errorf("approvals: rebase request %d: %w", id, err)
	}
	return r, nil
}

// revise is the transaction shared by Edit and Rebase: lock, check who and
// when, build the proposal, store the next revision, audit.
// revision 0 skips the revision check (a rebase works on whatever is
// current).
func (s *Service) revise(ctx context.Context, a Actor, id int64, revision int, action audit.Action,
	build func(Querier, Request) (proposal, error),
) (Request, error) {
	var r Request
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if r, err = requestLock(ctx, tx, id); err != nil {
			return err
		}
		if a.UserID != r.Requester.ID && !a.Admin {
			return fmt.Errorf("%w: only the requester or an admin may change a request", ErrForbidden)
		}
		if r.State != StatePending && r.State != StateStale {
			return fmt.Errorf("%w: a %s request cannot be changed", ErrInvalidTransition, r.State)
		}
		if revision != 0 && revision != r.Revision.Number {
			return fmt.Errorf("%w: you edited revision %d, the request is now at revision %d", ErrConflict, revision, r.Revision.Number)
		}
		p, err := build(tx, r)
		if err != nil {
			return err
		}
		if !r.Kind.OnCluster() {
			if err := lockName(ctx, tx, p.name); err != nil {
				return err
			}
		}
		d, err := s.prepare(ctx, tx, p, r.ID)
		if err != nil {
			return err
		}
		// The editor files the new revision: the permission function must
		// let them request it now, as on filing.
		if err := s.permitDraft(ctx, tx, a, d); err != nil {
			return err
		}
		changes, err := CompareRevisions(r.Revision, d.revision)
		if err != nil {
			return err
		}
		changes.ToRevision = r.Revision.Number + 1
		d.revision.Changes = &changes
		if r.State == StateStale {
			if err := checkTransition(StateStale, StatePending); err != nil {
				return err
			}
		}
		previous := r.Revision
		next := previous.Number + 1
		if err := revisionInsert(ctx, tx, r.ID, next, a.UserID, d); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE change_requests SET revision = $2, cluster_name = $3, updated_at = now(),
			       state = CASE WHEN state = 'stale' THEN 'pending' ELSE state END
			WHERE id = $1`, r.ID, next, d.clusterName)
		if err != nil {
			return err
		}
		if r, err = Get(ctx, tx, id); err != nil {
			return err
		}
		if err := notifyRequest(ctx, tx, r); err != nil {
			return err
		}
		if err := s.revised(ctx, tx, r); err != nil {
			return err
		}
		data := revisionData(r, &previous)
		_, err = audit.Append(ctx, tx, audit.Event{
			Actor: a.audit(), Action: action, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
			Data:    data,
		})
		return err
	})
	return r, err
}

// carryOver completes p with r's proposal moved onto the cluster's current
// spec (the inventory's): see Rebase.
func carryOver(ctx context.Context, q Querier, r Request, p proposal) (proposal, error) {
	v := r.Revision
	switch r.Kind {
	case KindCreate:
		p.spec = v.ProposedSpec
	case KindRollback:
		p.rollbackTo = v.Payload.RollbackTo
	case KindReplace:
		current, err := currentSpec(ctx, q, r.ClusterUID)
		if err != nil {
			return proposal{}, err
		}
		p.spec, p.seen = v.ProposedSpec, &current.version
	case KindUpdate:
		current, err := currentSpec(ctx, q, r.ClusterUID)
		if err != nil {
			return proposal{}, err
		}
		moved, err := reapply(*v.BaseSpec, *v.ProposedSpec, current.spec)
		if err != nil {
			return proposal{}, err
		}
		p.spec, p.seen = &moved, &current.version
	}
	return p, nil
}

type versionedSpec struct {
	spec    cloudapi.ClusterSpec
	version int64
}

func currentSpec(ctx context.Context, q Querier, uid string) (versionedSpec, error) {
	var (
		raw     []byte
		version int64
	)
	err := q.QueryRow(ctx, "SELECT spec, resource_version FROM clusters WHERE uid = $1 AND deleted_at IS NULL", uid).Scan(&raw, &version)
	if err != nil {
		return versionedSpec{}, fmt.Errorf("cluster %q: %w", uid, notFound(err))
	}
	var spec cloudapi.ClusterSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return versionedSpec{}, err
	}
	return versionedSpec{spec: spec, version: version}, nil
}

// reapply applies the changes from base to proposed onto current: the
// merge patch between the first two, merged into the third.
func reapply(base, proposed, current cloudapi.ClusterSpec) (cloudapi.ClusterSpec, error) {
	patch, err := cloudapi.SpecPatch(base, proposed)
	if err != nil {
		return cloudapi.ClusterSpec{}, err
	}
	doc, err := json.Marshal(cloudapi.Cluster{Spec: current})
	if err != nil {
		return cloudapi.ClusterSpec{}, err
	}
	merged, err := cloudapi.ApplyMergePatch(doc, patch)
	if err != nil {
		return cloudapi.ClusterSpec{}, err
	}
	var out cloudapi.Cluster
	if err := json.Unmarshal(merged, &out); err != nil {
		return cloudapi.ClusterSpec{}, err
	}
	return out.Spec, nil
}
