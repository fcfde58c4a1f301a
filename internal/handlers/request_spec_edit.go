package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// specEditableRequest loads request :id for its spec form: a create or update
// request, pending or stale, of the viewer (or any, for an admin). The
// domain checks all of this again when the edit is stored.
func (s *Server) specEditableRequest(c echo.Context) (approvals.Request, error) {
	if s.deps.Approvals == nil {
		return approvals.Request{}, errNoApprovals
	}
	id, err := requestID(c)
	if err != nil {
		return approvals.Request{}, err
	}
	r, err := approvals.Get(c.Request().Context(), s.deps.DB, id)
	if err != nil {
		return approvals.Request{}, err
	}
	viewer := requestActor(c)
	switch {
	case viewer.UserID != r.Requester.ID && !viewer.Admin:
		return r, fmt.Errorf("handlers: edit request %d: %w", id, approvals.ErrForbidden)
	case !r.Kind.SpecForm() || r.Revision.ProposedSpec == nil:
		return r, echo.ErrNotFound // the other kinds have no spec to edit
	case r.State != approvals.StatePending && r.State != approvals.StateStale:
		return r, fmt.Errorf("handlers: edit request %d: %w", id, approvals.ErrInvalidTransition)
	}
	return r, nil
}

func specEditTitle(r approvals.Request) string {
	return fmt.Sprintf("Edit request %d (%s %s)", r.ID, r.Kind, r.ClusterName)
}

func specEditView(r approvals.Request) templates.SpecFormView {
	id := strconv.FormatInt(r.ID, 10)
	v := templates.SpecFormView{
		Heading: specEditTitle(r), RequestID: r.ID, Name: r.ClusterName, NameEditable: !r.Kind.OnCluster(),
		Action: "/requests/" + id + "/edit", ValidateURL: "/requests/" + id + "/edit/validate",
		Submit: "Save as revision " + strconv.Itoa(r.Revision.Number+1),
	}
	if r.Kind.OnCluster() {
		v.ClusterUID, v.ClusterName = r.ClusterUID, r.ClusterName
	}
	if r.State == approvals.StateStale {
		v.Notice = "The cluster changed since this request was made, so it cannot be approved. Rebase it first: its changes are re-applied to the cluster's current configuration."
		if r.Kind.OnCluster() {
			v.RebaseURL = "/requests/" + id + "/rebase"
		}
	}
	return v
}

// specTargetOf is the target of an edit: for update, the cluster as the
// inventory has it (refreshed when filing).
func (s *Server) specTargetOf(c echo.Context, r approvals.Request, refresh bool) (specTarget, error) {
	t := specTarget{kind: r.Kind, start: *r.Revision.ProposedSpec, request: &r}
	if r.Kind.OnCluster() {
		cl, err := s.specCluster(c, r.ClusterUID, refresh)
		if err != nil {
			return t, err
		}
		t.cluster = &cl
	}
	return t, nil
}

// specEditForm shows a filed request's form, filled from its current
// revision's proposal.
func (s *Server) specEditForm(c echo.Context) error {
	r, err := s.specEditableRequest(c)
	if err != nil {
		return err
	}
	v := filledSpecView(specEditView(r), *r.Revision.ProposedSpec)
	switch t, err := s.specTargetOf(c, r, false); {
	case err == nil:
		specReviewChanges(&v, t, *r.Revision.ProposedSpec, nil)
	case errors.Is(err, inventory.ErrNotFound):
		v.ChangesUnknown = true // the cluster is gone; filing says so
	default:
		return err
	}
	v.Reason, v.Revision = r.Revision.Reason, strconv.Itoa(r.Revision.Number)
	if r.Revision.HasBase {
		v.SeenResourceVersion = strconv.FormatInt(r.Revision.BaseResourceVersion, 10)
	}
	v.HardUpdate = r.Revision.Payload.HardUpdate
	specOfferHardUpdate(&v, approvals.ProposalOf(r), nil)
	return s.ok(c, templates.SpecFormPage(s.page(c, specEditTitle(r)), v))
}

// specEdit stores the form as the request's next revision: earlier
// approvals stop counting.
func (s *Server) specEdit(c echo.Context) error { return s.specEditPost(c, false) }

// specEditValidate is the edit form's live check.
func (s *Server) specEditValidate(c echo.Context) error { return s.specEditPost(c, true) }

func (s *Server) specEditPost(c echo.Context, validate bool) error {
	r, err := s.specEditableRequest(c)
	if err != nil {
		return err
	}
	f, err := bindSpecForm(c)
	if err != nil {
		return err
	}
	t, err := s.specTargetOf(c, r, !validate && f.switchTo == "")
	if err != nil {
		return err
	}
	v := postedSpecView(specEditView(r), f)
	return s.specFormHandle(c, t, f, v, specEditTitle(r), validate, func(spec cloudapi.ClusterSpec) (string, error) {
		revision, err := strconv.Atoi(f.revision)
		if err != nil {
			return "", fmt.Errorf("%w: the form lost the revision it was built from; open it again", approvals.ErrInvalid)
		}
		edit := approvals.Edit{Revision: revision, Reason: f.reason, Spec: &spec, HardUpdate: f.hardUpdate}
		if !r.Kind.OnCluster() {
			edit.Name = f.name
		}
		if seen, err := strconv.ParseInt(f.seen, 10, 64); err == nil && r.Kind.OnCluster() {
			edit.SeenResourceVersion = &seen
		}
		if revision != r.Revision.Number {
			return "", errSpecRequestMoved // the domain checks again, in its transaction
		}
		edited, err := s.deps.Approvals.Edit(c.Request().Context(), requestActor(c), r.ID, edit)
		switch {
		case err == nil:
			return "/requests/" + strconv.FormatInt(edited.ID, 10), nil
		case errors.Is(err, approvals.ErrConflict) && s.specRequestMoved(c, r):
			return "", errSpecRequestMoved
		case errors.Is(err, approvals.ErrInvalidTransition):
			return "", specFormMessage("The request can no longer be changed: it is not waiting for approval any more.")
		}
		return "", err
	})
}

// errSpecRequestMoved: the request got a newer revision than the form's.
var errSpecRequestMoved = specFormMessage("Someone changed the request since you opened this form, so your edit was not saved. " +
	"Open the request to see its current revision; what you typed is still below.")

// specRequestMoved reports whether r has a newer revision than the one loaded.
func (s *Server) specRequestMoved(c echo.Context, r approvals.Request) bool {
	now, err := approvals.Get(c.Request().Context(), s.deps.DB, r.ID)
	return err == nil && now.Revision.Number != r.Revision.Number
}

// specRebase moves a request onto the cluster's current version (refreshed
// first), re-applying its changes; it becomes pending again and earlier
// approvals stop counting. Errors go to the error page.
func (s *Server) specRebase(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errNoApprovals
	}
	id, err := requestID(c)
	if err != nil {
		return err
	}
	r, err := approvals.Get(c.Request().Context(), s.deps.DB, id)
	if err != nil {
		return err
	}
	if r.Kind.OnCluster() {
		if _, err := s.refreshedCluster(c, r.ClusterUID); err != nil && !errors.Is(err, inventory.ErrNotFound) {
			return err
		}
	}
	if _, err := s.deps.Approvals.Rebase(c.Request().Context(), requestActor(c), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/requests/"+strconv.FormatInt(id, 10))
}
