package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// DryRunner is the part of the Cloud Manager client a dry run needs;
// *cloudapi.Client has it. GetCluster reads the live document a replacing
// request (rollback, replace) puts its spec into.
type DryRunner interface {
	CreateCluster(ctx context.Context, cluster *cloudapi.Cluster, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
	UpdateCluster(ctx context.Context, id string, patch json.RawMessage, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
	GetCluster(ctx context.Context, id string, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
	ReplaceCluster(ctx context.Context, id string, cluster *cloudapi.Cluster, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
}

// Proposal is what a dry run or Check validates: a request's operation
// before or after it is filed.
type Proposal struct {
	Kind       Kind
	ClusterUID string // all kinds but create
	Name       string // create
	// Base is the cluster's current spec (update, stop, start, rollback,
	// replace); Proposed the spec asked for (all of these and create;
	// rollback and replace send it whole).
	Base, Proposed *cloudapi.ClusterSpec
	// HardUpdate is the requester's choice of a hard update
	// (Payload.HardUpdate): a refusal for want of one is then no
	// violation, and the API is asked again with force=true.
	HardUpdate bool
}

// ProposalOf returns the proposal of r's current revision, for checking a
// filed request again (RunDryRun, in the background for approvers).
func ProposalOf(r Request) Proposal {
	return Proposal{Kind: r.Kind, ClusterUID: r.ClusterUID, Name: r.ClusterName,
		Base: r.Revision.BaseSpec, Proposed: r.Revision.ProposedSpec, HardUpdate: r.Revision.Payload.HardUpdate}
}

// DryRun asks the API to validate p without applying it (dryRun=true):
// create posts the cluster; update, stop and start send the merge patch
// from Base to Proposed; rollback and replace read the live cluster and
// PUT its document with Proposed as the spec (as execution will: metadata
// and unknown members kept). Delete and restart_server have nothing to
// send: no violations.
//
// A 400 reply becomes violations, one per details[] entry with its target
// (a 400 without details gives one violation without target). A violation
// saying the change needs a hard update (see needsForce) is marked
// NeedsHardUpdate and moved to the field whose change causes the restarts
// (HardUpdateTarget). When p.HardUpdate is set such a refusal is not the
// answer: the dry run is repeated with force=true and that answer counts.
//
// Any other failure (cluster busy, API unreachable, cluster gone) is
// returned as the error: the proposal could not be checked.
func DryRun(ctx context.Context, api DryRunner, p Proposal) (Violations, error) {
	vs, err := dryRunOnce(ctx, api, p)
	if err != nil {
		return nil, err
	}
	if _, needed := vs.HardUpdateNeeded(); needed && p.HardUpdate {
		return dryRunOnce(ctx, api, p, cloudapi.Force())
	}
	return vs, nil
}

// dryRunOnce sends p once with dryRun=true and the extra options.
func dryRunOnce(ctx context.Context, api DryRunner, p Proposal, extra ...cloudapi.Option) (Violations, error) {
	opts := append([]cloudapi.Option{cloudapi.DryRun()}, extra...)
	var err error
	switch p.Kind {
	case KindCreate:
		if p.Proposed == nil {
			return nil, fmt.Errorf("%w: nothing to validate", ErrInvalid)
		}
		_, err = api.CreateCluster(ctx, &cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: p.Name}, Spec: *p.Proposed}, opts...)
	case KindUpdate, KindStop, KindStart:
		if p.Base == nil || p.Proposed == nil {
			return nil, fmt.Errorf("%w: nothing to validate", ErrInvalid)
		}
		patch, perr := cloudapi.SpecPatch(*p.Base, *p.Proposed)
		if perr != nil {
			return nil, fmt.Errorf("approvals: dry run: %w", perr)
		}
		_, err = api.UpdateCluster(ctx, p.ClusterUID, patch, opts...)
	case KindRollback, KindReplace:
		if p.Proposed == nil {
			return nil, fmt.Errorf("%w: nothing to validate", ErrInvalid)
		}
		live, gerr := api.GetCluster(ctx, p.ClusterUID)
		if gerr != nil {
			return nil, fmt.Errorf("approvals: dry run: read the live cluster: %w", gerr)
		}
		doc := *live
		doc.Metadata.UID, doc.Status, doc.Spec = "", nil, *p.Proposed
		_, err = api.ReplaceCluster(ctx, p.ClusterUID, &doc, opts...)
	default:
		return nil, nil
	}
	if err == nil {
		return nil, nil
	}
	apiErr, ok := errors.AsType[*cloudapi.APIError](err)
	if !ok || apiErr.StatusCode != http.StatusBadRequest {
		return nil, fmt.Errorf("approvals: dry run: %w", err)
	}
	vs := Violations{{Code: apiErr.Code, Message: apiErr.Message}}
	if len(apiErr.Details) > 0 {
		vs = make(Violations, len(apiErr.Details))
		for i, d := range apiErr.Details {
			vs[i] = Violation{Target: d.Target, Code: d.Code, Message: d.Message}
		}
	}
	for i, v := range vs {
		if needsForce(v.Message) {
			vs[i].NeedsHardUpdate = true
			vs[i].Target = HardUpdateTarget(p, v.Target)
			vs[i].Message = hardUpdateMessage + " Cloud Manager said: " + v.Message
		}
	}
	return vs, nil
}

// hardUpdateMessage is what a form says where a change needs a hard update.
const hardUpdateMessage = "Cloud Manager can apply this change only as a hard update: every affected server restarts at once, so the cluster is down meanwhile. Allow a hard update to go ahead, or change less."

// needsForce reports whether an API message refuses a change for want of
// force=true. Inferred: the API's wording is not documented
// (BEHAVIOUR.md §6 and open question 4); the simulator says "repeat with
// force=true for a hard update". Any message naming force is taken for
// one, as the query parameter is the only thing of that name.
func needsForce(message string) bool {
	return strings.Contains(strings.ToLower(message), "force")
}

// HardUpdateTarget is the field a hard update is about in p: spec.version
// when the version changes (every server restarts for it), else the first
// server group's instance type that changes, else given (the API's
// target; "" or "spec" is the whole spec).
func HardUpdateTarget(p Proposal, given string) string {
	if p.Base == nil || p.Proposed == nil {
		return given
	}
	d, err := DiffSpecs(p.Base, p.Proposed)
	if err != nil {
		return given
	}
	if _, ok := d.Find("spec.version"); ok {
		return "spec.version"
	}
	for _, c := range d {
		if serverInstanceTypePath.MatchString(c.Path) && (given == "" || given == "spec" || strings.HasPrefix(c.Path, given+".")) {
			return c.Path
		}
	}
	return given
}

// Check validates p with the local rules and with the API's dry run and
// merges them: the API's violations first (its word is final), then local
// ones for targets the API did not mention. When the dry run fails (busy,
// unreachable) the local violations are returned with that error, so a
// form can still show them and say the API could not be asked.
func Check(ctx context.Context, api DryRunner, p Proposal) (Violations, error) {
	var local Violations
	switch {
	case !p.Kind.OnCluster() && p.Proposed != nil:
		local = ValidateCreate(p.Name, *p.Proposed)
	case (p.Kind.SpecForm() || p.Kind.Replaces()) && p.Proposed != nil:
		local = ValidateSpec(*p.Proposed)
	}
	remote, err := DryRun(ctx, api, p)
	if err != nil {
		return local, err
	}
	merged := remote
	mentioned := map[string]bool{}
	for _, v := range remote {
		mentioned[v.Target] = true
	}
	for _, v := range local {
		if !mentioned[v.Target] {
			merged = append(merged, v)
		}
	}
	return merged, nil
}
