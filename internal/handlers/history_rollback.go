package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// previewReason stands in for the reason while the form is shown: the
// preview needs one, the request takes the person's.
const previewReason = "preview"

// historyRollbackNew shows the form that rolls cluster :uid back to version
// :rv: the diff against the live cluster, the risk hints, the policy, the
// fields not restored and colliding requests. A version older than what
// Clusterdesk followed is fetched once from the API's history.
func (s *Server) historyRollbackNew(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errRequestsUnavailable
	}
	cl, rv, err := s.rollbackTarget(c)
	if err != nil {
		return err
	}
	v, err := s.rollbackView(c, cl, rv, "")
	if err != nil {
		return err
	}
	status := http.StatusOK
	if v.Blocked {
		status = http.StatusUnprocessableEntity
	}
	return s.render(c, status, templates.RollbackNewPage(s.page(c, rollbackTitle(cl, rv)), v))
}

// historyRollbackCreate files the rollback with the posted reason. The
// cluster is re-read first; when it moved since the form was shown the
// form is shown again with the new diff (422), so nobody files a diff they
// did not see. Success is a 303 to the request.
func (s *Server) historyRollbackCreate(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errRequestsUnavailable
	}
	reason := c.FormValue("reason")
	seen, seenErr := strconv.ParseInt(c.FormValue("seen"), 10, 64)
	uid, rv, err := rollbackParams(c)
	if err != nil {
		return err
	}
	cl, err := s.refreshedCluster(c, uid)
	if err != nil {
		return err
	}
	if _, err := s.rollbackVersion(c, cl, rv); err != nil {
		return err
	}
	errs := map[string]string{}
	switch trimmed := strings.TrimSpace(reason); {
	case trimmed == "":
		errs["reason"] = "Say why the cluster should go back to this version; approvers decide on it."
	case utf8.RuneCountInString(trimmed) > requestReasonMaxLen:
		errs["reason"] = fmt.Sprintf("Keep the reason under %d characters.", requestReasonMaxLen)
	}
	var top []string
	if seenErr != nil || seen != cl.ResourceVersion {
		top = append(top, "The cluster changed since the form was shown. Check the changes below again, then file the request.")
	}
	in := approvals.NewRequest{Kind: approvals.KindRollback, ClusterUID: cl.UID, Reason: reason, RollbackTo: &rv,
		SeenResourceVersion: &seen, HardUpdate: c.FormValue("hard_update") != ""}
	offer := in.HardUpdate
	if len(errs) == 0 && len(top) == 0 {
		refused := s.replacingDryRun(c, in)
		if _, needed := refused.HardUpdateNeeded(); needed {
			offer = true
		}
		if len(refused) > 0 {
			top = append(top, "Cloud Manager would refuse this rollback (a dry run: nothing was changed), so it was not filed: "+
				replacingRefusalText(refused)+".")
		}
	}
	if len(errs) == 0 && len(top) == 0 {
		r, err := s.deps.Approvals.Create(c.Request().Context(), requestActor(c), in)
		if err == nil {
			return c.Redirect(http.StatusSeeOther, "/requests/"+strconv.FormatInt(r.ID, 10))
		}
		msg, placeErr := rollbackErrorText(err)
		if placeErr != nil {
			return placeErr
		}
		top = append(top, msg)
	}
	v, err := s.rollbackView(c, cl, rv, reason)
	if err != nil {
		return err
	}
	v.Errors, v.Top = errs, append(top, v.Top...)
	v.OfferHardUpdate, v.HardUpdate = offer, in.HardUpdate
	return s.render(c, http.StatusUnprocessableEntity, templates.RollbackNewPage(s.page(c, rollbackTitle(cl, rv)), v))
}

func rollbackParams(c echo.Context) (string, int64, error) {
	rv, err := strconv.ParseInt(c.Param("rv"), 10, 64)
	if err != nil || rv < 0 {
		return "", 0, echo.ErrNotFound
	}
	return c.Param("uid"), rv, nil
}

// rollbackTarget reads the cluster and makes sure version rv is stored.
func (s *Server) rollbackTarget(c echo.Context) (inventory.Cluster, int64, error) {
	uid, rv, err := rollbackParams(c)
	if err != nil {
		return inventory.Cluster{}, 0, err
	}
	cl, err := inventory.ClusterGet(c.Request().Context(), s.deps.DB, uid)
	if err != nil {
		return inventory.Cluster{}, 0, err
	}
	if _, err := s.rollbackVersion(c, cl, rv); err != nil {
		return inventory.Cluster{}, 0, err
	}
	return cl, rv, nil
}

// rollbackVersion returns version rv of cl, fetched from the API's history
// when the inventory does not have it yet (then kept).
func (s *Server) rollbackVersion(c echo.Context, cl inventory.Cluster, rv int64) (inventory.Version, error) {
	ctx := c.Request().Context()
	var (
		ver inventory.Version
		err error
	)
	if s.deps.Inventory != nil {
		ver, err = s.deps.Inventory.Version(ctx, cl.UID, rv)
	} else {
		ver, err = inventory.VersionGet(ctx, s.deps.DB, cl.UID, rv)
	}
	return ver, versionError(err)
}

// rollbackView previews the rollback of cl to rv.
func (s *Server) rollbackView(c echo.Context, cl inventory.Cluster, rv int64, reason string) (templates.RollbackNewView, error) {
	v := templates.RollbackNewView{ClusterUID: cl.UID, ClusterName: cl.Name, Environment: cl.Environment,
		To: rv, Live: cl.ResourceVersion, Reason: reason, Errors: map[string]string{}}
	if cl.Deleted() {
		v.Blocked, v.Top = true, []string{cl.Name + " was deleted, so no request can be filed for it."}
		return v, nil
	}
	p, err := s.deps.Approvals.Preview(c.Request().Context(), approvals.NewRequest{
		Kind: approvals.KindRollback, ClusterUID: cl.UID, Reason: previewReason, RollbackTo: &rv})
	switch {
	case errors.Is(err, approvals.ErrNoPolicy):
		v.Policy, v.PolicyText = "none", "no approval policy matches this rollback, so nobody could approve it."
	case err != nil:
		msg, placeErr := rollbackErrorText(err)
		if placeErr != nil {
			return v, placeErr
		}
		v.Blocked, v.Top = true, []string{msg}
		return v, nil
	default:
		v.Policy = p.Policy.Name
		v.PolicyText = fmt.Sprintf("%d approval(s) from %s.", p.Policy.ApprovalsRequired, joinOr(p.Policy.ApproverGroups, "no group"))
	}
	rev := p.Revision
	v.Plan = planView(approvals.PlanOf(approvals.KindRollback, v.ClusterName, rev))
	v.Diff = specDiffRows(rev.Diff, rev.Risks, rev.ProposedSpec)
	for _, r := range rev.Risks {
		v.Risks = append(v.Risks, r.Message)
	}
	v.NotRestored = notRestoredRows(rev.Payload.NotRestored)
	for _, o := range p.Collisions {
		v.Collisions = append(v.Collisions, collisionRow(o, 0))
	}
	return v, nil
}

// rollbackErrorText says in words why a rollback cannot be filed, or
// returns the error for the central handler.
func rollbackErrorText(err error) (string, error) {
	if ve, ok := errors.AsType[*approvals.ValidationError](err); ok {
		msgs := make([]string, 0, len(ve.Violations))
		for _, vi := range ve.Violations {
			msgs = append(msgs, strings.TrimSpace(vi.Target+" "+vi.Message))
		}
		return "The version's configuration is not valid today: " + strings.Join(msgs, "; ") + ".", nil
	}
	switch {
	case errors.Is(err, approvals.ErrNoChange):
		return "The cluster already has this version's configuration (apart from the fields a rollback does not restore): there is nothing to roll back.", nil
	case errors.Is(err, approvals.ErrStale):
		return "The cluster changed since the form was shown. Check the changes below again, then file the request.", nil
	case errors.Is(err, approvals.ErrInvalid):
		return "The rollback could not be filed: " + invalidDetail(err) + ".", nil
	}
	return "", err
}

func rollbackTitle(cl inventory.Cluster, rv int64) string {
	return "Roll " + cl.Name + " back to version " + strconv.FormatInt(rv, 10)
}

// notRestoredRows are the fields a revision kept from the live cluster.
func notRestoredRows(kept []approvals.KeptField) []templates.NotRestoredRow {
	rows := make([]templates.NotRestoredRow, 0, len(kept))
	for _, k := range kept {
		rows = append(rows, templates.NotRestoredRow{Path: k.Path, Live: diffValueText(k.Live),
			Version: diffValueText(k.Version), Why: k.Why, Differs: k.Differs()})
	}
	return rows
}

// collisionRow is o as seen from request self (0: a request not filed yet).
func collisionRow(o approvals.Overlap, self int64) templates.CollisionRow {
	return templates.CollisionRow{
		ID: o.Request.ID, URL: "/requests/" + strconv.FormatInt(o.Request.ID, 10),
		Kind: strings.ReplaceAll(string(o.Request.Kind), "_", " "), State: requestStateText(o.Request.State),
		Paths: o.Paths, WholeCluster: o.WholeCluster, Earlier: self == 0 || o.Request.ID < self,
	}
}
