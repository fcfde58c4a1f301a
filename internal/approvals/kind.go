package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Kind is the operation a change request asks for.
type Kind string

// The kinds. Rollback and replace send the whole spec (a PUT): rollback
// restores an earlier version's spec except the fields listed in
// NotRestored, replace takes a spec written whole (an advanced editor).
const (
	KindCreate        Kind = "create"
	KindUpdate        Kind = "update"
	KindStop          Kind = "stop"
	KindStart         Kind = "start"
	KindDelete        Kind = "delete"
	KindRestartServer Kind = "restart_server"
	KindRollback      Kind = "rollback"
	KindReplace       Kind = "replace"
)

// kindRules is what sets one kind of change request apart in the domain:
// what it acts on, how its revision is drafted, how it may be edited and
// how it meets other requests. How a kind is sent to Cloud Manager and
// followed to convergence is its entry in internal/execution/kinds.go.
// Adding a kind is one entry here, one there, and its form.
type kindRules struct {
	// onCluster: acts on an existing cluster, so its revisions have a
	// base (resource version and spec) and its approvals are bound to the
	// live version. Every kind but create.
	onCluster bool
	// specForm: filed and edited with the spec form (create, update).
	specForm bool
	// replaces: sent as a PUT of the whole proposed spec rather than a
	// merge patch (rollback, replace).
	replaces bool
	// hardUpdate: may carry the choice of a hard update (Payload.HardUpdate):
	// it changes the spec of a running cluster. Create has no servers yet;
	// stop and start take every server down or up anyway.
	hardUpdate bool
	// wholeCluster: collides with every other open change of its cluster,
	// whatever fields they touch (delete).
	wholeCluster bool
	// draft sets the proposal of d's revision from p; for a kind on a
	// cluster, d already has the cluster's base (cluster is that cluster).
	draft func(ctx context.Context, s *Service, q Querier, p proposal, d *draft, cluster inventory.Cluster) error
}

// kinds is every kind a request may have, in the order the cluster page
// offers them.
var kinds = []struct {
	kind  Kind
	rules kindRules
}{
	{KindCreate, kindRules{specForm: true, draft: draftCreate}},
	{KindUpdate, kindRules{onCluster: true, specForm: true, hardUpdate: true, draft: draftUpdate}},
	{KindStop, kindRules{onCluster: true, draft: draftDesiredState(cloudapi.DesiredStopped)}},
	{KindStart, kindRules{onCluster: true, draft: draftDesiredState(cloudapi.DesiredStarted)}},
	{KindDelete, kindRules{onCluster: true, wholeCluster: true, draft: draftDelete}},
	{KindRestartServer, kindRules{onCluster: true, draft: draftRestart}},
	{KindRollback, kindRules{onCluster: true, replaces: true, hardUpdate: true, draft: draftRollback}},
	{KindReplace, kindRules{onCluster: true, replaces: true, hardUpdate: true, draft: draftReplace}},
}

// rules returns k's rules; ok is false for a kind that cannot be filed.
func (k Kind) rules() (kindRules, bool) {
	for _, e := range kinds {
		if e.kind == k {
			return e.rules, true
		}
	}
	return kindRules{}, false
}

// Kinds lists the kinds a request may have today, in the order the cluster
// page offers them.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, e := range kinds {
		out[i] = e.kind
	}
	return out
}

// Supported reports whether requests of kind k can be filed.
func (k Kind) Supported() bool { return slices.Contains(Kinds(), k) }

// OnCluster reports whether requests of kind k act on an existing cluster
// (all but create).
func (k Kind) OnCluster() bool { r, _ := k.rules(); return r.onCluster }

// SpecForm reports whether requests of kind k are filed and edited with
// the spec form (create, update).
func (k Kind) SpecForm() bool { r, _ := k.rules(); return r.specForm }

// Replaces reports whether requests of kind k are submitted as a PUT of the
// whole proposed spec (rollback, replace) rather than a merge patch.
func (k Kind) Replaces() bool { r, _ := k.rules(); return r.replaces }

// CanHardUpdate reports whether requests of kind k may carry the choice of
// a hard update (Payload.HardUpdate): those that change the spec of a
// running cluster (update, rollback, replace).
func (k Kind) CanHardUpdate() bool { r, _ := k.rules(); return r.hardUpdate }

// WholeCluster reports whether requests of kind k collide with every other
// open change of their cluster (delete).
func (k Kind) WholeCluster() bool { r, _ := k.rules(); return r.wholeCluster }

func draftCreate(ctx context.Context, s *Service, q Querier, p proposal, d *draft, _ inventory.Cluster) error {
	v := &d.revision
	if p.spec == nil {
		return fmt.Errorf("%w: a create request needs a spec", ErrInvalid)
	}
	if vs := ValidateCreate(p.name, *p.spec); len(vs) > 0 {
		return &ValidationError{Violations: vs}
	}
	if err := checkNameFree(ctx, q, p.name, p.self); err != nil {
		return err
	}
	d.clusterName = p.name
	proposed := *p.spec
	v.ProposedSpec = &proposed
	env, _ := s.classifier.Classify(p.name, proposed)
	v.Environments = []string{env}
	spec, err := DiffSpecs(nil, v.ProposedSpec)
	if err != nil {
		return err
	}
	name, _ := json.Marshal(p.name)
	v.Diff = append(Diff{{Path: "metadata.name", After: name}}, spec...)
	return nil
}

func draftUpdate(_ context.Context, s *Service, _ Querier, p proposal, d *draft, cluster inventory.Cluster) error {
	v := &d.revision
	if p.spec == nil {
		return fmt.Errorf("%w: an update request needs a spec", ErrInvalid)
	}
	if p.seen == nil {
		return fmt.Errorf("%w: an update request needs the resource version its form was built on", ErrInvalid)
	}
	if vs := ValidateSpec(*p.spec); len(vs) > 0 {
		return &ValidationError{Violations: vs}
	}
	proposed := *p.spec
	v.ProposedSpec = &proposed
	if env, _ := s.classifier.Classify(cluster.Name, proposed); env != cluster.Environment {
		v.Environments = append(v.Environments, env)
	}
	return nil
}

func draftRollback(ctx context.Context, s *Service, q Querier, p proposal, d *draft, cluster inventory.Cluster) error {
	v := &d.revision
	if p.rollbackTo == nil {
		return fmt.Errorf("%w: a rollback request needs the version to restore", ErrInvalid)
	}
	old, err := inventory.VersionGet(ctx, q, cluster.UID, *p.rollbackTo)
	if errors.Is(err, inventory.ErrVersionNotFound) {
		return fmt.Errorf("%w: version %d of cluster %s is not known", ErrNotFound, *p.rollbackTo, cluster.Name)
	}
	if err != nil {
		return err
	}
	proposed, kept, err := restoreSpec(old.Spec, *v.BaseSpec)
	if err != nil {
		return err
	}
	rv := *p.rollbackTo
	v.Payload.RollbackTo, v.Payload.NotRestored = &rv, kept
	return s.replacing(v, cluster.Name, cluster.Environment, proposed)
}

func draftReplace(_ context.Context, s *Service, _ Querier, p proposal, d *draft, cluster inventory.Cluster) error {
	v := &d.revision
	if p.spec == nil {
		return fmt.Errorf("%w: a replace request needs the whole spec", ErrInvalid)
	}
	if p.seen == nil {
		return fmt.Errorf("%w: a replace request needs the resource version its form was built on", ErrInvalid)
	}
	proposed, err := cloneSpec(*p.spec)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	v.Payload.NotRestored = keepAccessMode(&proposed, *v.BaseSpec)
	return s.replacing(v, cluster.Name, cluster.Environment, proposed)
}

// draftDesiredState drafts a stop or a start: the base spec with
// desiredState set to want.
func draftDesiredState(want cloudapi.DesiredState) func(context.Context, *Service, Querier, proposal, *draft, inventory.Cluster) error {
	return func(_ context.Context, _ *Service, _ Querier, _ proposal, d *draft, _ inventory.Cluster) error {
		v := &d.revision
		proposed := *v.BaseSpec
		have := proposed.DesiredState
		proposed.DesiredState = want
		if have == want || have == "" && want == cloudapi.DesiredStarted {
			return fmt.Errorf("%w: the cluster is already %s", ErrNoChange, strings.ToLower(string(want)))
		}
		v.ProposedSpec = &proposed
		return nil
	}
}

func draftRestart(_ context.Context, _ *Service, _ Querier, p proposal, d *draft, cluster inventory.Cluster) error {
	if p.instanceID == "" {
		return fmt.Errorf("%w: choose the server to restart", ErrInvalid)
	}
	srv, ok := cluster.Server(p.instanceID)
	if !ok {
		return fmt.Errorf("%w: cluster %s has no server %q", ErrInvalid, cluster.Name, p.instanceID)
	}
	d.revision.Payload.InstanceID = p.instanceID
	d.revision.Payload.Server = &ServerSeen{NodeType: string(srv.NodeType), InstanceType: srv.InstanceType, PrivateIP: srv.PrivateIP}
	return nil
}

// draftDelete leaves the diff empty: the whole cluster goes (see the delete
// risk).
func draftDelete(context.Context, *Service, Querier, proposal, *draft, inventory.Cluster) error {
	return nil
}
