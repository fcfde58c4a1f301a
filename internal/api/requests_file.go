package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// FileRequest is the body of POST /requests. Like the forms it has no
// state, requester or base: those come from the domain (mass assignment
// finds nowhere to go, and unknown members are refused).
type FileRequest struct {
	Kind       string `json:"kind"`
	ClusterUID string `json:"cluster_uid,omitempty"`
	// Name is the new cluster's name (create).
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
	// Spec is the whole proposed spec (create, update, replace); with
	// update it needs SeenResourceVersion, as the update form does.
	Spec *cloudapi.ClusterSpec `json:"spec,omitempty"`
	// Patch is a JSON merge patch (RFC 7386) applied to the cluster's
	// current spec (update): the proposal is the current spec with it, and
	// the version it was applied to is the one seen.
	Patch               json.RawMessage `json:"patch,omitempty"`
	SeenResourceVersion *int64          `json:"seen_resource_version,omitempty"`
	InstanceID          string          `json:"instance_id,omitempty"`
	RollbackTo          *int64          `json:"rollback_to,omitempty"`
	HardUpdate          bool            `json:"hard_update,omitempty"`
	// ConfirmName is the cluster's name, typed to confirm a delete or a
	// stop in production (as the form asks).
	ConfirmName string `json:"confirm_name,omitempty"`
	// DryRun checks and previews without filing.
	DryRun bool `json:"dry_run,omitempty"`
}

// Preview is what filing would give: POST /requests with dry_run.
type Preview struct {
	Kind        string             `json:"kind"`
	ClusterUID  string             `json:"cluster_uid,omitempty"`
	ClusterName string             `json:"cluster_name"`
	DiffHash    string             `json:"diff_hash"`
	Plan        Plan               `json:"plan"`
	Diff        []approvals.Change `json:"diff"`
	Risks       []Risk             `json:"risks"`
	Policy      *Policy            `json:"policy,omitempty"`
	// Overlaps are the open requests on the same cluster and the fields
	// both change.
	Overlaps []Overlap `json:"overlaps"`
	// Checked says who checked the proposal: "api" (Cloud Manager's dry
	// run) or "local" (the portal's rules only).
	Checked string `json:"checked"`
}

// Overlap is another open request on the same cluster.
type Overlap struct {
	RequestID int64    `json:"request_id"`
	Paths     []string `json:"paths"`
	Whole     bool     `json:"whole_cluster"`
}

// reasonMaxLen is the forms' bound on a reason.
const reasonMaxLen = 2000

// dryRunTimeout bounds Cloud Manager's dry run, as the forms'.
const dryRunTimeout = 10 * time.Second

// decodeBody reads a JSON body strictly: unknown members are refused, so
// a misspelt field is not silently ignored.
func decodeBody(c echo.Context, into any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) || strings.Contains(err.Error(), "request body too large") {
			return problem(http.StatusRequestEntityTooLarge, "too-large", "The body is larger than the portal accepts.")
		}
		return problem(http.StatusBadRequest, "malformed-body", "The body is not the JSON this operation takes: "+err.Error())
	}
	return nil
}

func fieldProblem(status int, code, target, message string) *Problem {
	p := problem(status, code, message)
	field, _ := approvals.FieldForTarget(target)
	if field == "" {
		field = target
	}
	p.Errors = []FieldProblem{{Target: target, Field: field, Message: message}}
	return p
}

// requestFile files a change request of any kind, with the forms' checks
// in the forms' order: the cluster refreshed, the form's own rules, the
// proposal checked (Cloud Manager's dry run, or the local rules), then the
// domain's Create. With dry_run it answers the preview instead.
func (s *Server) requestFile(c echo.Context) error {
	var in FileRequest
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	kind := approvals.Kind(in.Kind)
	if !kind.Supported() {
		return fieldProblem(http.StatusUnprocessableEntity, "invalid", "kind", fmt.Sprintf("unknown kind %q", in.Kind))
	}
	if err := checkReason(in.Reason); err != nil {
		return err
	}
	ctx := c.Request().Context()
	nr := approvals.NewRequest{Kind: kind, Name: in.Name, Reason: in.Reason, Spec: in.Spec, InstanceID: in.InstanceID,
		RollbackTo: in.RollbackTo, SeenResourceVersion: in.SeenResourceVersion, HardUpdate: in.HardUpdate}
	var cl *inventory.Cluster
	if kind.OnCluster() {
		got, err := s.refreshed(ctx, in.ClusterUID, !in.DryRun)
		if err != nil {
			return err
		}
		cl, nr.ClusterUID = &got, got.UID
		if err := checkOnCluster(kind, got, in); err != nil {
			return err
		}
		if len(in.Patch) > 0 {
			spec, err := patched(got, in)
			if err != nil {
				return err
			}
			seen := got.ResourceVersion
			nr.Spec, nr.SeenResourceVersion = &spec, &seen
		}
		if kind == approvals.KindUpdate && nr.Spec == nil {
			return fieldProblem(http.StatusUnprocessableEntity, "invalid", "spec", "an update needs a spec (with seen_resource_version) or a patch")
		}
		if kind == approvals.KindUpdate && nr.SeenResourceVersion == nil {
			return fieldProblem(http.StatusUnprocessableEntity, "invalid", "seen_resource_version",
				"a whole spec needs the resource version it was read at, so that later changes are not undone")
		}
	} else if len(in.Patch) > 0 {
		return fieldProblem(http.StatusUnprocessableEntity, "invalid", "patch", "a patch applies to an existing cluster")
	}
	checked, err := s.checkProposal(ctx, kind, cl, nr)
	if err != nil {
		return err
	}
	if in.DryRun {
		p, err := s.deps.Approvals.Preview(ctx, nr)
		if err != nil {
			return err
		}
		name := strings.TrimSpace(in.Name)
		if cl != nil {
			name = cl.Name
		}
		return c.JSON(http.StatusOK, previewOf(kind, nr.ClusterUID, name, p, checked))
	}
	r, err := s.deps.Approvals.Create(ctx, actorOf(c), nr)
	if err != nil {
		return err
	}
	view, err := s.requestView(ctx, r.ID, actorOf(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, Prefix+"/requests/"+strconv.FormatInt(r.ID, 10))
	c.Response().Header().Set("ETag", etagOf(r.ID, r.Revision.Number))
	return c.JSON(http.StatusCreated, view)
}

func checkReason(reason string) error {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return fieldProblem(http.StatusUnprocessableEntity, "invalid", "reason", "Say why the change is needed; approvers decide on it.")
	case utf8.RuneCountInString(reason) > reasonMaxLen:
		return fieldProblem(http.StatusUnprocessableEntity, "invalid", "reason", fmt.Sprintf("Keep the reason under %d characters.", reasonMaxLen))
	}
	return nil
}

// checkOnCluster applies the simple forms' rules (request_new.go): the
// operation fits the cluster's state, a restart names one of its servers,
// a destructive request confirms the cluster's name.
func checkOnCluster(kind approvals.Kind, cl inventory.Cluster, in FileRequest) error {
	switch {
	case kind == approvals.KindStart && cl.Spec.DesiredState != cloudapi.DesiredStopped:
		return problem(http.StatusUnprocessableEntity, "not-offered", cl.Name+" is not stopped, so it cannot be started.")
	case kind == approvals.KindStop && cl.Spec.DesiredState == cloudapi.DesiredStopped:
		return problem(http.StatusUnprocessableEntity, "not-offered", cl.Name+" is already stopped, so it cannot be stopped.")
	case kind == approvals.KindRestartServer && strings.TrimSpace(in.InstanceID) == "":
		return fieldProblem(http.StatusUnprocessableEntity, "invalid", "instance_id", "Choose the server to restart.")
	case kind == approvals.KindRestartServer:
		if _, ok := cl.Server(strings.TrimSpace(in.InstanceID)); !ok {
			return fieldProblem(http.StatusUnprocessableEntity, "invalid", "instance_id", "The cluster has no server with this instance id.")
		}
	}
	needsConfirm := kind == approvals.KindDelete || kind == approvals.KindStop && cl.Environment == approvals.ProductionEnvironment
	if needsConfirm && strings.TrimSpace(in.ConfirmName) != cl.Name {
		return fieldProblem(http.StatusUnprocessableEntity, "invalid", "confirm_name", "Give the cluster's name exactly (confirm_name) to confirm.")
	}
	return nil
}

// patched is the cluster's spec with in.Patch applied.
func patched(cl inventory.Cluster, in FileRequest) (cloudapi.ClusterSpec, error) {
	if in.Spec != nil {
		return cloudapi.ClusterSpec{}, fieldProblem(http.StatusUnprocessableEntity, "invalid", "patch", "give a spec or a patch, not both")
	}
	current, err := json.Marshal(cl.Spec)
	if err != nil {
		return cloudapi.ClusterSpec{}, err
	}
	doc, err := cloudapi.ApplyMergePatch(current, in.Patch)
	if err != nil {
		return cloudapi.ClusterSpec{}, fieldProblem(http.StatusUnprocessableEntity, "invalid", "patch", "not a JSON merge patch: "+err.Error())
	}
	var spec cloudapi.ClusterSpec
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return cloudapi.ClusterSpec{}, fieldProblem(http.StatusUnprocessableEntity, "invalid", "patch", "the patched spec is not a cluster spec: "+err.Error())
	}
	return spec, nil
}

// checkProposal checks a proposal with a spec as the spec forms do
// (checkSpec): Cloud Manager's dry run when it answers, else the local
// rules. Violations are a 422 with every field's problem.
func (s *Server) checkProposal(ctx context.Context, kind approvals.Kind, cl *inventory.Cluster, nr approvals.NewRequest) (string, error) {
	if nr.Spec == nil {
		return "local", nil
	}
	p := approvals.Proposal{Kind: kind, Name: strings.TrimSpace(nr.Name), Proposed: nr.Spec, HardUpdate: nr.HardUpdate}
	if cl != nil {
		base := cl.Spec
		p.ClusterUID, p.Base = cl.UID, &base
	}
	var vs approvals.Violations
	checked := "local"
	if s.deps.Cloud != nil {
		dctx, cancel := context.WithTimeout(ctx, dryRunTimeout)
		defer cancel()
		var err error
		if vs, err = approvals.Check(dctx, s.deps.Cloud, p); err != nil {
			s.logger.WarnContext(ctx, "dry run of an API request failed; local rules only", "kind", kind, "err", err)
			vs = localRules(p)
		} else {
			checked = "api"
		}
	} else {
		vs = localRules(p)
	}
	if len(vs) > 0 {
		return "", &approvals.ValidationError{Violations: vs}
	}
	return checked, nil
}

// localRules are the spec forms' (specLocalRules).
func localRules(p approvals.Proposal) approvals.Violations {
	if !p.Kind.OnCluster() {
		return approvals.ValidateCreate(p.Name, *p.Proposed)
	}
	return approvals.ValidateSpec(*p.Proposed)
}

// refreshed reads cluster uid, re-read from Cloud Manager first when
// refresh (as the forms do before filing, so the base is current); a
// deleted cluster takes no request.
func (s *Server) refreshed(ctx context.Context, uid string, refresh bool) (inventory.Cluster, error) {
	if strings.TrimSpace(uid) == "" {
		return inventory.Cluster{}, fieldProblem(http.StatusUnprocessableEntity, "invalid", "cluster_uid", "name the cluster (cluster_uid)")
	}
	if refresh && s.deps.Inventory != nil {
		cl, err := s.deps.Inventory.Refresh(ctx, uid)
		if err == nil && cl.Deleted() {
			return cl, fmt.Errorf("api: cluster %s was deleted: %w", uid, inventory.ErrNotFound)
		}
		if err == nil || errors.Is(err, inventory.ErrNotFound) {
			return cl, err
		}
		s.logger.WarnContext(ctx, "refresh before filing a request failed; using the inventory", "cluster", uid, "err", err)
	}
	cl, err := inventory.ClusterGet(ctx, s.deps.DB, uid)
	if err == nil && cl.Deleted() {
		err = fmt.Errorf("api: cluster %s was deleted: %w", uid, inventory.ErrNotFound)
	}
	return cl, err
}

func previewOf(kind approvals.Kind, uid, name string, p approvals.Preview, checked string) Preview {
	v := p.Revision
	out := Preview{Kind: string(kind), ClusterUID: uid, ClusterName: name, DiffHash: v.DiffHash.String(),
		Plan: planOf(approvals.PlanOf(kind, name, v)), Diff: v.Diff, Risks: risksOf(v.Risks),
		Policy: policyOf(p.Policy), Overlaps: []Overlap{}, Checked: checked}
	if out.Diff == nil {
		out.Diff = []approvals.Change{}
	}
	for _, o := range p.Overlaps {
		paths := o.Paths
		if paths == nil {
			paths = []string{}
		}
		out.Overlaps = append(out.Overlaps, Overlap{RequestID: o.Request.ID, Paths: paths, Whole: o.WholeCluster})
	}
	return out
}
