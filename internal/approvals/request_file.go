package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// NewRequest is what a requester files.
//
// It deliberately has no state, requester, revision, base or diff: the
// state starts at pending, the requester is the Actor, and the base comes
// from the inventory, so a form that binds extra fields (state=approved,
// requester_id=…) into it has nowhere to put them (mass assignment).
type NewRequest struct {
	Kind Kind
	// ClusterUID names the cluster; every kind but create.
	ClusterUID string
	// Name is the new cluster's name; create only.
	Name string
	// Reason says why; required.
	Reason string
	// Spec is the proposed spec; create, update and replace. For update,
	// start it from the current spec so that members the form does not
	// show are kept. For replace it is the whole new spec; without a Pivot
	// access mode the live one is kept (a PUT needs one).
	Spec *cloudapi.ClusterSpec
	// RollbackTo is the resource version a rollback restores; rollback
	// only. The version must be in the inventory (inventory.Syncer.Version
	// fetches an older one from the API's history).
	RollbackTo *int64
	// InstanceID is the server to restart; restart_server only.
	InstanceID string
	// SeenResourceVersion is the cluster version the form was built from;
	// required for update and replace (a form built on an older version would silently
	// undo the changes made since), optional for the other kinds on a
	// cluster. When it is not the inventory's version: ErrStale.
	SeenResourceVersion *int64
	// HardUpdate is the requester's choice to let Cloud Manager restart
	// every affected server at once (Payload.HardUpdate); update, rollback
	// and replace only. Whether the change needs one is the API's to say
	// (DryRun); filing does not ask it.
	HardUpdate bool
}

// Create files a request: it takes the base (resource version and spec)
// from the inventory, computes the diff, its hash and the risk hints, and
// stores revision 1 in state pending with its request.created audit event.
// Refresh the cluster in the inventory first for the freshest base.
//
// Errors: ErrInvalid (unsupported kind, missing reason, spec or instance,
// ErrNoChange, a hard update for a kind that cannot have one, or a
// *ValidationError from the local rules); ErrNotFound
// (cluster unknown or deleted); ErrStale (SeenResourceVersion is not the
// inventory's); ErrConflict (create: the name is taken by a cluster or by
// another open create request, a *NameTakenError).
func (s *Service) Create(ctx context.Context, a Actor, in NewRequest) (Request, error) {
	var r Request
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if !in.Kind.OnCluster() {
			if err := lockName(ctx, tx, strings.TrimSpace(in.Name)); err != nil {
				return err
			}
		}
		d, err := s.prepare(ctx, tx, proposalOf(in), 0)
		if err != nil {
			return err
		}
		if err := s.permitDraft(ctx, tx, a, d); err != nil {
			return err
		}
		if r, err = requestInsert(ctx, tx, a, d); err != nil {
			return err
		}
		if err := notifyRequest(ctx, tx, r); err != nil {
			return err
		}
		if err := s.revised(ctx, tx, r); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, audit.Event{
			Actor: a.audit(), Action: audit.RequestCreated, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
			Data:    revisionData(r, nil),
		})
		return err
	})
	if err != nil {
		return Request{}, fmt.Errorf("approvals: file %s request: %w", in.Kind, err)
	}
	return r, nil
}

// requestInsert stores the pending request d of a, with its first
// revision, and returns it.
func requestInsert(ctx context.Context, tx pgx.Tx, a Actor, d draft) (Request, error) {
	var clusterUID *string
	if d.clusterUID != "" {
		clusterUID = &d.clusterUID
	}
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO change_requests (kind, cluster_uid, cluster_name, requester_id, state)
		VALUES ($1, $2, $3, $4, 'pending') RETURNING id`,
		string(d.kind), clusterUID, d.clusterName, a.UserID).Scan(&id)
	if err != nil {
		return Request{}, err
	}
	if err := revisionInsert(ctx, tx, id, 1, a.UserID, d); err != nil {
		return Request{}, err
	}
	return Get(ctx, tx, id)
}

// Preview computes, without storing anything, what filing in would give:
// the revision (base, diff, risk hints), the policy that would apply, the
// first open requests on the same cluster and those it would collide
// with. Errors: Create's (ErrNoPolicy included).
func (s *Service) Preview(ctx context.Context, in NewRequest) (Preview, error) {
	d, err := s.prepare(ctx, s.pool, proposalOf(in), 0)
	if err != nil {
		return Preview{}, fmt.Errorf("approvals: preview %s request: %w", in.Kind, err)
	}
	p := Preview{Revision: d.revision, ClusterName: d.clusterName}
	team, err := requestTeam(ctx, s.pool, d.clusterUID, d.clusterName, d.revision.ProposedSpec)
	if err != nil {
		return Preview{}, err
	}
	if p.Policy, err = PolicyFor(ctx, s.pool, subject(team, d.kind, d.revision)); err != nil {
		return Preview{}, err
	}
	draft := Request{Kind: d.kind, ClusterUID: d.clusterUID, ClusterName: d.clusterName, Revision: d.revision}
	if p.Overlaps, err = overlapsWith(ctx, s.pool, draft, OverlapsShown+1); err != nil {
		return Preview{}, err
	}
	if len(p.Overlaps) > OverlapsShown {
		p.Overlaps, p.MoreOverlaps = p.Overlaps[:OverlapsShown], true
	}
	if p.Collisions, err = colliding(ctx, s.pool, draft, false, 0); err != nil {
		return Preview{}, err
	}
	return p, nil
}

// Preview is what a request would be, before it is filed.
type Preview struct {
	Revision    Revision
	ClusterName string
	Policy      Policy
	// Overlaps are the first OverlapsShown open requests on the cluster,
	// oldest first; MoreOverlaps says there are more.
	Overlaps     []Overlap
	MoreOverlaps bool
	// Collisions are every open request on the cluster that changes the
	// same fields (see Collisions).
	Collisions []Overlap
}

// lockName serialises, until tx ends, the transactions that check whether
// a new cluster's name is free and then claim it: two people asking for the
// same name at once do not both get it.
func lockName(ctx context.Context, tx pgx.Tx, name string) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('clusterdesk.create:' || $1, 0))", name)
	return err
}

// proposal is the content of a revision as a requester gives it.
type proposal struct {
	kind       Kind
	clusterUID string
	name       string
	reason     string
	spec       *cloudapi.ClusterSpec
	instanceID string
	rollbackTo *int64
	seen       *int64
	hardUpdate bool
	// self is the request being revised (0 when filing).
	self int64
}

func proposalOf(in NewRequest) proposal {
	return proposal{kind: in.Kind, clusterUID: in.ClusterUID, name: strings.TrimSpace(in.Name), reason: in.Reason,
		spec: in.Spec, instanceID: strings.TrimSpace(in.InstanceID), rollbackTo: in.RollbackTo, seen: in.SeenResourceVersion,
		hardUpdate: in.HardUpdate}
}

// draft is a revision ready to store.
type draft struct {
	kind        Kind
	clusterUID  string
	clusterName string
	revision    Revision
}

// prepare checks p and computes its revision against the cluster as the
// inventory has it. self is the request being revised (0 when filing), so
// that a create request does not conflict with itself.
func (s *Service) prepare(ctx context.Context, q Querier, p proposal, self int64) (draft, error) {
	rules, ok := p.kind.rules()
	if !ok {
		return draft{}, fmt.Errorf("%w: unsupported kind %q", ErrInvalid, p.kind)
	}
	reason := strings.TrimSpace(p.reason)
	if reason == "" {
		return draft{}, fmt.Errorf("%w: a reason is required", ErrInvalid)
	}
	if p.hardUpdate && !rules.hardUpdate {
		return draft{}, fmt.Errorf("%w: a %s request cannot be a hard update", ErrInvalid, p.kind)
	}
	p.self = self
	d := draft{kind: p.kind, revision: Revision{Reason: reason, Payload: Payload{HardUpdate: p.hardUpdate}}}
	v := &d.revision
	var cluster inventory.Cluster
	if rules.onCluster {
		var err error
		cluster, err = inventory.ClusterGet(ctx, q, p.clusterUID)
		if errors.Is(err, inventory.ErrNotFound) || err == nil && cluster.Deleted() {
			return draft{}, fmt.Errorf("%w: cluster %q is not in the inventory", ErrNotFound, p.clusterUID)
		}
		if err != nil {
			return draft{}, err
		}
		if p.seen != nil && *p.seen != cluster.ResourceVersion {
			return draft{}, fmt.Errorf("%w: the form was built on version %d, the cluster is at %d", ErrStale, *p.seen, cluster.ResourceVersion)
		}
		d.clusterUID, d.clusterName = cluster.UID, cluster.Name
		base := cluster.Spec
		v.HasBase, v.BaseResourceVersion, v.BaseSpec = true, cluster.ResourceVersion, &base
		v.Environments = []string{cluster.Environment}
	}
	if err := rules.draft(ctx, s, q, p, &d, cluster); err != nil {
		return draft{}, err
	}
	if v.ProposedSpec != nil && v.HasBase {
		var err error
		if v.Diff, err = DiffSpecs(v.BaseSpec, v.ProposedSpec); err != nil {
			return draft{}, err
		}
		if len(v.Diff) == 0 {
			return draft{}, ErrNoChange
		}
	}
	return d.finish(), nil
}

// replacing sets the proposal of a request that replaces the whole spec
// (rollback, replace), after the local rules and the access mode check.
func (s *Service) replacing(v *Revision, name, environment string, proposed cloudapi.ClusterSpec) error {
	if vs := ValidateSpec(proposed); len(vs) > 0 {
		return &ValidationError{Violations: vs}
	}
	if err := checkAccessMode(proposed); err != nil {
		return err
	}
	v.ProposedSpec = &proposed
	if env, _ := s.classifier.Classify(name, proposed); env != environment {
		v.Environments = append(v.Environments, env)
	}
	return nil
}

// finish derives the hash and the risk hints.
func (d draft) finish() draft {
	v := &d.revision
	if v.Diff == nil {
		v.Diff = Diff{}
	}
	v.DiffHash = diffHash(d.kind, d.clusterUID, d.clusterName, v.Payload, v.Diff)
	v.Risks = Risks(d.kind, v.Diff, v.Payload, v.Environments)
	return d
}

// revisionInsert stores d as revision number of request id, made by author.
func revisionInsert(ctx context.Context, tx pgx.Tx, id int64, number int, author int64, d draft) error {
	v := d.revision
	var base *int64
	if v.HasBase {
		base = &v.BaseResourceVersion
	}
	baseSpec, err := encodeSpecColumn(v.BaseSpec)
	if err != nil {
		return err
	}
	proposed, err := encodeSpecColumn(v.ProposedSpec)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(v.Payload)
	if err != nil {
		return err
	}
	diff, err := json.Marshal(v.Diff)
	if err != nil {
		return err
	}
	changes, err := encodeChanges(v.Changes)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO request_revisions (request_id, revision, author_id, reason, base_resource_version, base_spec,
		                               proposed_spec, payload, diff, diff_hash, risks, environments, rebase)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		id, number, author, v.Reason, base, baseSpec, proposed, payload, diff, v.DiffHash[:],
		riskCodes(v.Risks), v.Environments, changes)
	return err
}

func encodeSpecColumn(spec *cloudapi.ClusterSpec) ([]byte, error) {
	if spec == nil {
		return nil, nil
	}
	return json.Marshal(spec)
}

// revisionData is the audit payload describing r's current revision;
// previous, when set, is the revision it replaces.
func revisionData(r Request, previous *Revision) map[string]any {
	v := r.Revision
	data := map[string]any{
		"kind":         string(r.Kind),
		"cluster_uid":  r.ClusterUID,
		"cluster_name": r.ClusterName,
		"revision":     v.Number,
		"reason":       v.Reason,
		"diff_hash":    v.DiffHash.String(),
		"changes":      len(v.Diff),
		"paths":        v.Diff.Paths(),
		"risks":        riskCodes(v.Risks),
		"environments": v.Environments,
		"state":        string(r.State),
	}
	if v.HasBase {
		data["base_resource_version"] = v.BaseResourceVersion
	}
	if v.Payload.InstanceID != "" {
		data["instance_id"] = v.Payload.InstanceID
		if server := v.Payload.Server.String(); server != "" {
			data["server"] = server
		}
	}
	if v.Payload.RollbackTo != nil {
		data["rollback_to"] = *v.Payload.RollbackTo
	}
	if v.Payload.HardUpdate {
		data["hard_update"] = true
	}
	if len(v.Payload.NotRestored) > 0 {
		kept := make([]string, len(v.Payload.NotRestored))
		for i, k := range v.Payload.NotRestored {
			kept[i] = k.Path
		}
		data["not_restored"] = kept
	}
	if previous != nil {
		data["previous_revision"] = previous.Number
		data["previous_diff_hash"] = previous.DiffHash.String()
		if previous.HasBase {
			data["previous_base_resource_version"] = previous.BaseResourceVersion
		}
	}
	return data
}
