package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/specform"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// specDryRunTimeout bounds one dry run: a form waits for it.
const specDryRunTimeout = 10 * time.Second

// The words the forms use about Cloud Manager's part in a check.
const (
	specAPIChecked   = "Checked by Cloud Manager (a dry run: nothing was changed)."
	specAPINotAsked  = "Cloud Manager was not asked yet: first fix what could not be read."
	specAPIOff       = "The portal is not connected to Cloud Manager, so only the portal's own rules were checked. You can still file the request."
	specAPIBusy      = "Cloud Manager cannot check a change of this cluster while it is busy (an update is under way), so only the portal's own rules were checked. You can still file the request; Cloud Manager checks it again in the background before approvers decide."
	specAPIUnreached = "Cloud Manager could not be asked just now, so only the portal's own rules were checked. You can still file the request; Cloud Manager checks it again in the background before approvers decide."
)

// checkSpec validates a proposal for a form: what could not be read
// (parse) first, then the local rules, then Cloud Manager's dry run when
// the portal has one and everything could be read. Each problem lands on
// the field approvals.FieldForTarget names; the others go to the top. The
// violations are returned too, for the offer of a hard update.
func (s *Server) checkSpec(c echo.Context, p approvals.Proposal, parse specform.Errors) (templates.SpecCheckView, approvals.Violations) {
	check := templates.SpecCheckView{Errors: map[string]string{}, Done: true}
	var vs approvals.Violations
	switch {
	case parse["spec_json"] != "":
		check.API = specAPINotAsked // nothing to check: the JSON cannot be read
	case len(parse) > 0:
		vs, check.API = specLocalRules(p), specAPINotAsked
	case s.deps.Cloud == nil:
		vs, check.API, check.APIDown = specLocalRules(p), specAPIOff, true
	default:
		ctx, cancel := context.WithTimeout(c.Request().Context(), specDryRunTimeout)
		defer cancel()
		var err error
		if vs, err = approvals.Check(ctx, s.deps.Cloud, p); err != nil {
			s.logger.WarnContext(c.Request().Context(), "dry run of a spec form failed; local rules only", "request_id", RequestID(c), "kind", p.Kind, "err", err)
			check.API, check.APIDown = specAPIUnreached, true
			if apiErr, ok := errors.AsType[*cloudapi.APIError](err); ok && apiErr.StatusCode == http.StatusConflict {
				check.API = specAPIBusy
			}
		} else {
			check.API = specAPIChecked
		}
	}
	for field, msg := range parse {
		check.Errors[field] = msg
	}
	placed := vs.Place()
	for field, list := range placed.Fields {
		if _, taken := check.Errors[field]; !taken {
			check.Errors[field] = specViolationText(list)
		}
	}
	for _, v := range placed.Top {
		check.Top = append(check.Top, specTopText(v))
	}
	return check, vs
}

// specOfferHardUpdate decides where v offers the choice of a hard update:
// beside the field Cloud Manager's refusal is about (found), or, when the
// choice is ticked and nothing was refused, beside the field whose change
// needs it (the version first). A field the form does not show in its
// mode hands the offer to the JSON editor. Kinds that cannot be hard
// updates are never offered one.
func specOfferHardUpdate(v *templates.SpecFormView, p approvals.Proposal, found approvals.Violations) {
	v.HardUpdateField = ""
	var target string
	switch refusal, needed := found.HardUpdateNeeded(); {
	case !p.Kind.CanHardUpdate():
		return
	case needed:
		target = refusal.Target
	case v.HardUpdate:
		target = approvals.HardUpdateTarget(p, "spec")
	default:
		return
	}
	field, ok := approvals.FieldForTarget(target)
	if !ok || !slices.Contains(templates.HardUpdateFields(), field) || !slices.Contains(v.SpecFieldNames(), field) {
		field = "spec_json"
	}
	v.HardUpdateField = field
}

// specLocalRules are the portal's own rules for p.
func specLocalRules(p approvals.Proposal) approvals.Violations {
	switch {
	case p.Proposed == nil:
		return nil
	case !p.Kind.OnCluster():
		return approvals.ValidateCreate(p.Name, *p.Proposed)
	}
	return approvals.ValidateSpec(*p.Proposed)
}

// specViolationText joins the messages one field got.
func specViolationText(vs []approvals.Violation) string {
	msgs := make([]string, 0, len(vs))
	for _, v := range vs {
		if !strings.Contains(strings.Join(msgs, "\n"), v.Message) {
			msgs = append(msgs, v.Message)
		}
	}
	return strings.Join(msgs, " ")
}

func specTopText(v approvals.Violation) string {
	if v.Target == "" {
		return v.Message
	}
	return v.Target + ": " + v.Message
}

// specCheckReason applies the form's rule for the reason; a missing reason
// counts only on submit (the live check does not nag while typing).
func specCheckReason(v *templates.SpecFormView, submit bool) {
	reason := strings.TrimSpace(v.Reason)
	switch {
	case reason == "" && submit:
		v.Check.Errors["reason"] = "Say why the change is needed; approvers decide on it."
	case utf8.RuneCountInString(reason) > requestReasonMaxLen:
		v.Check.Errors["reason"] = fmt.Sprintf("Keep the reason under %d characters.", requestReasonMaxLen)
	}
}

// specPlaceCheck moves the errors of fields the form does not show in its
// mode (the fieldsets' fields in JSON mode, the name of an existing
// cluster) to the top, labelled, and picks the field to focus.
func specPlaceCheck(v *templates.SpecFormView) {
	shown := map[string]bool{}
	for _, name := range v.SpecFieldNames() {
		shown[name] = true
	}
	for _, f := range approvals.FormFields() {
		if msg, ok := v.Check.Errors[f.Name]; ok && !shown[f.Name] {
			v.Check.Top = append(v.Check.Top, f.Label+": "+msg)
			delete(v.Check.Errors, f.Name)
		}
	}
	v.FirstError = ""
	for _, name := range v.SpecFieldNames() {
		if _, ok := v.Check.Errors[name]; ok {
			v.FirstError = name
			break
		}
	}
}

// specPlaceError puts what the domain refused on the form; errors that
// are not about the input are returned (the error page shows them).
func specPlaceError(v *templates.SpecFormView, err error) error {
	if ve, ok := errors.AsType[*approvals.ValidationError](err); ok {
		placed := ve.Violations.Place()
		for field, vs := range placed.Fields {
			v.Check.Errors[field] = specViolationText(vs)
		}
		for _, p := range placed.Top {
			v.Check.Top = append(v.Check.Top, specTopText(p))
		}
		specPlaceCheck(v)
		return nil
	}
	if taken, ok := errors.AsType[*approvals.NameTakenError](err); ok {
		specNameTaken(&v.Check, taken)
		specPlaceCheck(v)
		return nil
	}
	if msg, ok := errors.AsType[specFormMessage](err); ok {
		v.Check.Top = append(v.Check.Top, string(msg))
		return nil
	}
	switch {
	case errors.Is(err, approvals.ErrNoChange):
		v.Check.Top = append(v.Check.Top, "This request would change nothing: the form holds the cluster's current configuration. Change something first.")
	case errors.Is(err, approvals.ErrStale):
		v.Check.Top = append(v.Check.Top, "The cluster changed since this form was opened, so the request was not filed: it would undo those changes. "+
			"Open the form again to start from the cluster's current configuration (copy what you typed first).")
	case errors.Is(err, approvals.ErrInvalid):
		v.Check.Top = append(v.Check.Top, "The request could not be filed: "+invalidDetail(err)+".")
	default:
		return err
	}
	return nil
}

// specFormMessage is a refusal said on the form, at the top.
type specFormMessage string

func (m specFormMessage) Error() string { return string(m) }

// requestFreshness says, for a viewer who may approve r, how r stands
// against the cluster and against Cloud Manager's dry run, from what
// PostgreSQL holds: the inventory's copy of the cluster (kept by the
// sync) and the revision's stored dry run (run in the background by the
// worker's request_dry_run jobs). A page view never calls Cloud Manager;
// the approve action re-reads the cluster itself (requestApprove). When
// the cluster moved since r's base, the page says r must be rebased and
// offers no approval.
func (s *Server) requestFreshness(ctx context.Context, r approvals.Request, v *templates.RequestShowView) error {
	if r.Revision.HasBase && s.deps.Inventory != nil {
		cl, err := inventory.ClusterGet(ctx, s.deps.DB, r.ClusterUID)
		if err == nil {
			v.Freshness = &templates.RequestFreshnessView{SyncedAt: timeText(cl.SyncedAt)}
		}
		switch {
		case errors.Is(err, inventory.ErrNotFound):
			v.CanApprove = false
			v.Live = "The portal has no copy of the cluster, so it cannot be approved."
		case err != nil:
			return err
		case cl.Deleted():
			v.CanApprove = false
			v.Live = "Cloud Manager no longer lists the cluster, so this request cannot be approved."
		case cl.ResourceVersion != r.Revision.BaseResourceVersion:
			v.CanApprove = false
			v.Live = fmt.Sprintf("The cluster changed since this request was made (version %d, the request is based on %d), so it cannot be approved: the requester must rebase it.",
				cl.ResourceVersion, r.Revision.BaseResourceVersion)
		default:
			v.Live = fmt.Sprintf("The cluster is at version %d, as last synced from Cloud Manager: it has not changed since this request was made.",
				cl.ResourceVersion)
		}
	}
	return s.requestSpecCheck(ctx, r, v)
}

// requestSpecCheck says in v.Live what Cloud Manager's dry run of r's
// current revision answered, as stored, and in v.Freshness when it ran
// and against which version of the cluster. Problems the API found stop
// the approval (a rejection stays possible); when the dry run has not run
// yet or could not be run the page says so and leaves the decision to the
// approver. Kinds without a spec (delete, restart) and a portal without
// Cloud Manager are not checked.
func (s *Server) requestSpecCheck(ctx context.Context, r approvals.Request, v *templates.RequestShowView) error {
	if s.deps.Cloud == nil || !v.CanApprove || r.Revision.ProposedSpec == nil {
		return nil
	}
	d, err := approvals.DryRunGet(ctx, s.deps.DB, r.ID, r.Revision.Number)
	if err != nil && !errors.Is(err, approvals.ErrNoDryRun) {
		return err
	}
	if err == nil {
		if v.Freshness == nil {
			v.Freshness = &templates.RequestFreshnessView{}
		}
		v.Freshness.CheckedAt, v.Freshness.CheckedVersion = timeText(d.CheckedAt), d.ResourceVersion
	}
	var said string
	switch {
	case err != nil:
		said = "Cloud Manager has not checked this change yet (a dry run runs in the background; reload in a moment); approve only if you are sure."
	case d.Error != "":
		said = "Cloud Manager could not be asked to check this change (a dry run; it is tried again shortly); approve only if you are sure."
	case len(d.Violations) > 0:
		v.CanApprove = false
		if _, needed := d.Violations.HardUpdateNeeded(); needed {
			v.Plan = planView(approvals.NewPlan(approvals.PlanInput{Kind: r.Kind, ClusterName: r.ClusterName, Diff: r.Revision.Diff,
				Base: r.Revision.BaseSpec, Proposed: r.Revision.ProposedSpec, Payload: r.Revision.Payload, NeedsHardUpdate: true}))
		}
		texts := make([]string, len(d.Violations))
		for i, p := range d.Violations {
			texts[i] = specTopText(p)
		}
		said = "Cloud Manager would refuse this change (dry run), so it cannot be approved: " + strings.Join(texts, "; ") + ". "
		switch {
		case r.Kind.SpecForm():
			said += "The requester must edit it."
		default:
			said += "The requester must cancel it and file a new request."
		}
	case r.Revision.Payload.HardUpdate:
		said = "Cloud Manager's dry run accepts this change. It is sent as a hard update (force=true), as the requester chose."
	default:
		said = "Cloud Manager's dry run accepts this change."
	}
	v.Live = strings.TrimSpace(v.Live + " " + said)
	return nil
}
