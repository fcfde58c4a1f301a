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
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// requestReasonMaxLen bounds a reason; it is a sentence or two, not a document.
const requestReasonMaxLen = 2000

// errRequestsUnavailable: the portal runs without the change-request service.
var errRequestsUnavailable = echo.NewHTTPError(http.StatusServiceUnavailable)

// simpleOperation is one of the simple requests the cluster page offers.
type simpleOperation struct {
	kind    approvals.Kind
	label   string
	explain string
}

// simpleOperations are the simple requests, in the order the cluster page shows
// them. Create and update have forms of their own.
var simpleOperations = []simpleOperation{
	{approvals.KindStart, "Start the cluster", "Starting brings its servers back with the current configuration."},
	{approvals.KindStop, "Stop the cluster", "Stopping shuts down every server; the data in deep storage stays."},
	{approvals.KindRestartServer, "Restart one server", "Restarting replaces one server; the others keep serving."},
	{approvals.KindDelete, "Delete the cluster", "Deleting removes the cluster and its servers for good."},
}

func simpleOperationOf(kind string) (simpleOperation, bool) {
	for _, o := range simpleOperations {
		if string(o.kind) == kind {
			return o, true
		}
	}
	return simpleOperation{}, false
}

// operationNotOffered says why op does not fit cl now, or "" when it does: start
// only a stopped cluster, stop only a started one, restart only a server
// that runs, nothing on a deleted cluster.
func operationNotOffered(op simpleOperation, cl inventory.Cluster) string {
	switch {
	case cl.Deleted():
		return cl.Name + " was deleted, so no request can be filed for it."
	case op.kind == approvals.KindStart && cl.Spec.DesiredState != cloudapi.DesiredStopped:
		return cl.Name + " is not stopped, so it cannot be started."
	case op.kind == approvals.KindStop && cl.Spec.DesiredState == cloudapi.DesiredStopped:
		return cl.Name + " is already stopped, so it cannot be stopped."
	case op.kind == approvals.KindRestartServer && len(cl.Status.Servers) == 0:
		return cl.Name + " has no running server to restart."
	}
	return ""
}

// clusterOperations are the requests cl allows now, as links to their forms:
// the simple ones, then the spec forms' (request_spec.go).
func clusterOperations(cl inventory.Cluster) []templates.ClusterOperation {
	ops := specOperations(cl)
	for _, o := range simpleOperations {
		if operationNotOffered(o, cl) == "" {
			ops = append(ops, templates.ClusterOperation{Kind: string(o.kind), Label: o.label,
				URL: "/clusters/" + cl.UID + "/requests/new?kind=" + string(o.kind)})
		}
	}
	if !cl.Deleted() {
		ops = append(ops, templates.ClusterOperation{Kind: string(approvals.KindReplace),
			Label: "Replace the configuration (JSON, advanced)", URL: "/clusters/" + cl.UID + "/replace"})
	}
	return ops
}

// operationNeedsConfirm: destructive requests ask for the cluster's name.
func operationNeedsConfirm(kind approvals.Kind, cl inventory.Cluster) bool {
	return kind == approvals.KindDelete || kind == approvals.KindStop && cl.Environment == approvals.ProductionEnvironment
}

// requestNewForm is everything the form posts; nothing else is read, so
// extra fields (state=approved, requester_id=…) go nowhere.
type requestNewForm struct {
	Kind        string
	Reason      string
	InstanceID  string
	ConfirmName string
}

func bindRequestNewForm(c echo.Context) requestNewForm {
	return requestNewForm{
		Kind:        c.FormValue("kind"),
		Reason:      c.FormValue("reason"),
		InstanceID:  c.FormValue("instance_id"),
		ConfirmName: c.FormValue("confirm_name"),
	}
}

// requestNew shows the form of ?kind= for cluster :uid, read from the
// inventory. An unknown kind is a 404; a kind that does not fit the
// cluster's state a 422 page that says why and offers the others.
func (s *Server) requestNew(c echo.Context) error {
	op, ok := simpleOperationOf(c.QueryParam("kind"))
	if !ok {
		return echo.ErrNotFound
	}
	cl, err := inventory.ClusterGet(c.Request().Context(), s.deps.DB, c.Param("uid"))
	if err != nil {
		return err
	}
	v := requestNewView(op, cl, requestNewForm{Kind: string(op.kind)})
	status := http.StatusOK
	if !v.Offered {
		status = http.StatusUnprocessableEntity
	} else {
		v.Takes = s.requestNewPreview(c, op, cl, "")
	}
	return s.render(c, status, templates.RequestNewPage(s.page(c, op.label+" "+cl.Name), v))
}

// requestCreate files the request: it refreshes the cluster so the base is
// current, checks the form, and calls the domain. Success is a 303 to the
// request's page; a mistake re-renders the form with 422, every message on
// its field and everything typed kept.
func (s *Server) requestCreate(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errRequestsUnavailable
	}
	form := bindRequestNewForm(c)
	op, ok := simpleOperationOf(form.Kind)
	if !ok {
		return echo.ErrNotFound
	}
	cl, err := s.refreshedCluster(c, c.Param("uid"))
	if err != nil {
		return err
	}
	v := requestNewView(op, cl, form)
	if !v.Offered {
		// The cluster moved since the form was shown: say so on the form.
		v.Offered, v.Top = true, []string{v.NotOffered}
	} else {
		validateRequestNew(&v, cl)
	}
	if len(v.Errors) == 0 && len(v.Top) == 0 {
		r, err := s.deps.Approvals.Create(c.Request().Context(), requestActor(c), approvals.NewRequest{
			Kind: op.kind, ClusterUID: cl.UID, Reason: form.Reason, InstanceID: form.InstanceID})
		if err == nil {
			return c.Redirect(http.StatusSeeOther, "/requests/"+strconv.FormatInt(r.ID, 10))
		}
		if err := requestNewPlaceError(&v, err); err != nil {
			return err
		}
	}
	v.FirstError = requestNewFirstError(v.Errors)
	v.Takes = s.requestNewPreview(c, op, cl, form.InstanceID)
	return s.render(c, http.StatusUnprocessableEntity, templates.RequestNewPage(s.page(c, op.label+" "+cl.Name), v))
}

// requestNewPreview is what filing op on cl would take. A restart's policy
// does not depend on the server, so any server stands in until one is
// chosen.
func (s *Server) requestNewPreview(c echo.Context, op simpleOperation, cl inventory.Cluster, instanceID string) *templates.RequestTakesView {
	if op.kind == approvals.KindRestartServer && instanceID == "" && len(cl.Status.Servers) > 0 {
		instanceID = cl.Status.Servers[0].InstanceID
	}
	return s.requestPreview(c.Request().Context(), approvals.NewRequest{
		Kind: op.kind, ClusterUID: cl.UID, InstanceID: instanceID, Reason: "preview"})
}

// refreshedCluster re-reads the cluster from Cloud Manager when the portal
// can, so the request's base is current; when the API cannot be asked the
// inventory's copy serves (approving re-reads the cluster in its
// transaction, and refuses a request whose base has moved).
func (s *Server) refreshedCluster(c echo.Context, uid string) (inventory.Cluster, error) {
	ctx := c.Request().Context()
	if s.deps.Inventory != nil {
		cl, err := s.deps.Inventory.Refresh(ctx, uid)
		if err == nil || errors.Is(err, inventory.ErrNotFound) {
			return cl, err
		}
		s.logger.WarnContext(c.Request().Context(), "refresh before filing a request failed; using the inventory", "request_id", RequestID(c), "cluster", uid, "err", err)
	}
	return inventory.ClusterGet(ctx, s.deps.DB, uid)
}

// validateRequestNew applies the form's own rules: a reason, a server of
// the cluster for a restart, the cluster's name typed to confirm.
func validateRequestNew(v *templates.RequestNewView, cl inventory.Cluster) {
	reason := strings.TrimSpace(v.Reason)
	switch {
	case reason == "":
		v.Errors["reason"] = "Say why the change is needed; approvers decide on it."
	case utf8.RuneCountInString(reason) > requestReasonMaxLen:
		v.Errors["reason"] = fmt.Sprintf("Keep the reason under %d characters.", requestReasonMaxLen)
	}
	if v.Kind == string(approvals.KindRestartServer) {
		id := strings.TrimSpace(v.InstanceID)
		if id == "" {
			v.Errors["instance_id"] = "Choose the server to restart."
		} else if _, ok := cl.Server(id); !ok {
			v.Errors["instance_id"] = "The cluster has no server with this instance id any more. Choose one of the list."
		}
	}
	if v.NeedsConfirm && strings.TrimSpace(v.ConfirmName) != cl.Name {
		v.Errors["confirm_name"] = "Type the cluster's name exactly as shown to confirm."
	}
}

// requestNewPlaceError puts what Create refused on the form; errors that are
// not about the input are returned for the error page.
func requestNewPlaceError(v *templates.RequestNewView, err error) error {
	if ve, ok := errors.AsType[*approvals.ValidationError](err); ok {
		placed := ve.Violations.Place()
		for field, vs := range placed.Fields {
			v.Errors[field] = vs[0].Message
		}
		for _, p := range placed.Top {
			v.Top = append(v.Top, p.Message)
		}
		return nil
	}
	switch {
	case errors.Is(err, approvals.ErrNotFound):
		return fmt.Errorf("handlers: %w: %w", inventory.ErrNotFound, err)
	case errors.Is(err, approvals.ErrNoChange):
		v.Top = append(v.Top, "This request would change nothing: the cluster is already in that state.")
	case errors.Is(err, approvals.ErrInvalid):
		v.Top = append(v.Top, "The request could not be filed: "+invalidDetail(err)+".")
	default:
		return err
	}
	return nil
}

// invalidDetail is what an ErrInvalid says after its prefixes, such as
// "cluster x has no server "i-1"".
func invalidDetail(err error) string {
	msg := err.Error()
	if _, detail, ok := strings.Cut(msg, approvals.ErrInvalid.Error()+": "); ok {
		return detail
	}
	return "the input is incomplete"
}

func requestNewFirstError(errs map[string]string) string {
	for _, field := range []string{"instance_id", "reason", "confirm_name"} {
		if _, ok := errs[field]; ok {
			return field
		}
	}
	return ""
}

func requestNewView(op simpleOperation, cl inventory.Cluster, form requestNewForm) templates.RequestNewView {
	v := templates.RequestNewView{
		ClusterUID: cl.UID, ClusterName: cl.Name, Environment: cl.Environment,
		Kind: string(op.kind), Label: op.label, Explain: op.explain,
		NotOffered: operationNotOffered(op, cl),
		Reason:     form.Reason, InstanceID: form.InstanceID, ConfirmName: form.ConfirmName,
		NeedsConfirm: operationNeedsConfirm(op.kind, cl),
		Errors:       map[string]string{},
	}
	v.Offered = v.NotOffered == ""
	for _, r := range approvals.Risks(op.kind, nil, approvals.Payload{}, []string{cl.Environment}) {
		v.Risks = append(v.Risks, r.Message)
	}
	if !v.Offered {
		for _, o := range clusterOperations(cl) {
			if o.Kind != v.Kind {
				v.Others = append(v.Others, o)
			}
		}
	}
	if op.kind == approvals.KindRestartServer {
		for _, srv := range cl.Status.Servers {
			v.Servers = append(v.Servers, templates.RequestServerOption{
				InstanceID: srv.InstanceID, NodeType: string(srv.NodeType), InstanceType: srv.InstanceType,
				State: srv.State, Checked: srv.InstanceID == form.InstanceID})
		}
	}
	return v
}

// requestActor is the signed-in person as the domain knows them.
func requestActor(c echo.Context) approvals.Actor {
	u, _ := auth.UserFrom(c.Request().Context())
	name := u.Name
	if name == "" {
		name = u.Username
	}
	return approvals.Actor{UserID: u.ID, Name: name, Groups: u.Groups, Admin: u.Has(auth.RoleAdmin),
		Origin: auditOrigin(c)}
}
