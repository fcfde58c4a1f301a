package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// historyReplaceNew shows the advanced form that replaces cluster :uid's
// whole spec with JSON, filled with the spec as the inventory has it.
func (s *Server) historyReplaceNew(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errRequestsUnavailable
	}
	cl, err := inventory.ClusterGet(c.Request().Context(), s.deps.DB, c.Param("uid"))
	if err != nil {
		return err
	}
	if cl.Deleted() {
		return echo.ErrNotFound
	}
	raw, err := json.MarshalIndent(cl.Spec, "", "  ")
	if err != nil {
		return err
	}
	v := templates.ReplaceNewView{ClusterUID: cl.UID, ClusterName: cl.Name, Environment: cl.Environment,
		Seen: cl.ResourceVersion, SpecJSON: string(raw), Errors: map[string]string{}}
	return s.ok(c, templates.ReplaceNewPage(s.page(c, "Replace the configuration of "+cl.Name), v))
}

// historyReplaceCreate checks the posted JSON (action=check: shows the
// diff against the live cluster, risks, policy and kept fields) or files
// the replace request (action=file: 303 to the request). A form built on
// another version than the live one is shown again with the new diff.
func (s *Server) historyReplaceCreate(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errRequestsUnavailable
	}
	cl, err := s.refreshedCluster(c, c.Param("uid"))
	if err != nil {
		return err
	}
	seen, seenErr := strconv.ParseInt(c.FormValue("seen"), 10, 64)
	v := templates.ReplaceNewView{ClusterUID: cl.UID, ClusterName: cl.Name, Environment: cl.Environment,
		Seen: seen, SpecJSON: c.FormValue("spec_json"), Reason: c.FormValue("reason"), Errors: map[string]string{}}
	spec, problem := decodeReplaceSpec(v.SpecJSON)
	if problem != "" {
		v.Errors["spec_json"] = problem
	}
	filing := c.FormValue("action") == "file"
	if filing {
		switch reason := strings.TrimSpace(v.Reason); {
		case reason == "":
			v.Errors["reason"] = "Say why the configuration should be replaced; approvers decide on it."
		case utf8.RuneCountInString(reason) > requestReasonMaxLen:
			v.Errors["reason"] = fmt.Sprintf("Keep the reason under %d characters.", requestReasonMaxLen)
		}
	}
	if seenErr != nil || seen != cl.ResourceVersion {
		v.Top = append(v.Top, fmt.Sprintf("The cluster is at version %d now, not the version this JSON started from. Check the changes below again.", cl.ResourceVersion))
		v.Seen, filing = cl.ResourceVersion, false
	}
	if spec == nil {
		return s.render(c, http.StatusUnprocessableEntity, templates.ReplaceNewPage(s.page(c, "Replace the configuration of "+cl.Name), v))
	}
	in := approvals.NewRequest{Kind: approvals.KindReplace, ClusterUID: cl.UID, Reason: v.Reason, Spec: spec,
		SeenResourceVersion: &v.Seen, HardUpdate: c.FormValue("hard_update") != ""}
	v.OfferHardUpdate, v.HardUpdate = in.HardUpdate, in.HardUpdate
	refused := s.replacingDryRun(c, in)
	if _, needed := refused.HardUpdateNeeded(); needed {
		v.OfferHardUpdate = true
	}
	if len(refused) > 0 {
		v.Errors["spec_json"] = "Cloud Manager would refuse this specification (a dry run: nothing was changed): " + replacingRefusalText(refused) + "."
	}
	if filing && len(v.Errors) == 0 {
		r, err := s.deps.Approvals.Create(c.Request().Context(), requestActor(c), in)
		if err == nil {
			return c.Redirect(http.StatusSeeOther, "/requests/"+strconv.FormatInt(r.ID, 10))
		}
		if err := replacePlaceError(&v, err); err != nil {
			return err
		}
	}
	in.Reason = previewReason
	p, err := s.deps.Approvals.Preview(c.Request().Context(), in)
	switch {
	case err == nil, errors.Is(err, approvals.ErrNoPolicy):
		v.Previewed = true
		v.Policy, v.PolicyText = "none", "no approval policy matches this request, so nobody could approve it."
		if err == nil {
			v.Policy = p.Policy.Name
			v.PolicyText = fmt.Sprintf("%d approval(s) from %s.", p.Policy.ApprovalsRequired, joinOr(p.Policy.ApproverGroups, "no group"))
		}
		v.Plan = planView(approvals.PlanOf(approvals.KindReplace, v.ClusterName, p.Revision))
		v.Diff = specDiffRows(p.Revision.Diff, p.Revision.Risks, p.Revision.ProposedSpec)
		for _, r := range p.Revision.Risks {
			v.Risks = append(v.Risks, r.Message)
		}
		v.NotRestored = notRestoredRows(p.Revision.Payload.NotRestored)
		for _, o := range p.Collisions {
			v.Collisions = append(v.Collisions, collisionRow(o, 0))
		}
	default:
		if err := replacePlaceError(&v, err); err != nil {
			return err
		}
	}
	status := http.StatusOK
	if filing || len(v.Errors) > 0 || len(v.Top) > 0 {
		status = http.StatusUnprocessableEntity
	}
	return s.render(c, status, templates.ReplaceNewPage(s.page(c, "Replace the configuration of "+cl.Name), v))
}

// decodeReplaceSpec reads the JSON of a whole spec (members the portal does
// not know are kept), or says in words what is wrong with it.
func decodeReplaceSpec(text string) (*cloudapi.ClusterSpec, string) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	var spec cloudapi.ClusterSpec
	if err := dec.Decode(&spec); err != nil {
		return nil, "This is not a specification in JSON: " + err.Error() + "."
	}
	if dec.More() {
		return nil, "Give one JSON object, the specification, and nothing after it."
	}
	return &spec, ""
}

// replacePlaceError puts what the domain refused on the form, or returns
// the error for the central handler.
func replacePlaceError(v *templates.ReplaceNewView, err error) error {
	if ve, ok := errors.AsType[*approvals.ValidationError](err); ok {
		msgs := make([]string, 0, len(ve.Violations))
		for _, vi := range ve.Violations {
			msgs = append(msgs, strings.TrimSpace(vi.Target+": "+vi.Message))
		}
		v.Errors["spec_json"] = strings.Join(msgs, "; ")
		return nil
	}
	switch {
	case errors.Is(err, approvals.ErrNoChange):
		v.Top = append(v.Top, "This specification is the cluster's as it is: there is nothing to replace.")
	case errors.Is(err, approvals.ErrStale):
		v.Top = append(v.Top, "The cluster changed since the form was shown. Check the changes below again.")
	case errors.Is(err, approvals.ErrInvalid):
		v.Top = append(v.Top, "The request could not be filed: "+invalidDetail(err)+".")
	default:
		return err
	}
	return nil
}

// replacingDryRun asks Cloud Manager whether the rollback or replace in
// would be accepted: a dry run of the PUT it would send (approvals.DryRun).
// It returns what the API refuses; nothing when it accepts, when the
// request cannot be worked out (filing then says why) or when the API
// cannot be asked (the approver's page asks again).
func (s *Server) replacingDryRun(c echo.Context, in approvals.NewRequest) approvals.Violations {
	if s.deps.Cloud == nil {
		return nil
	}
	ctx := c.Request().Context()
	in.Reason = cmpOr(strings.TrimSpace(in.Reason), previewReason)
	p, err := s.deps.Approvals.Preview(ctx, in)
	if err != nil {
		return nil
	}
	rev := p.Revision
	ctx, cancel := context.WithTimeout(ctx, specDryRunTimeout)
	defer cancel()
	vs, err := approvals.DryRun(ctx, s.deps.Cloud, approvals.Proposal{Kind: in.Kind, ClusterUID: in.ClusterUID,
		Base: rev.BaseSpec, Proposed: rev.ProposedSpec, HardUpdate: rev.Payload.HardUpdate})
	if err != nil {
		s.logger.WarnContext(c.Request().Context(), "dry run of a replacing request failed; filed unchecked", "request_id", RequestID(c), "kind", in.Kind, "err", err)
		return nil
	}
	return vs
}

// replacingRefusalText says the API's refusal in words, each problem with
// the field it is about.
func replacingRefusalText(vs approvals.Violations) string {
	texts := make([]string, len(vs))
	for i, v := range vs {
		texts[i] = specTopText(v)
	}
	return strings.Join(texts, "; ")
}
