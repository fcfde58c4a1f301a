package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/notify"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// deliveriesShown is how many deliveries one page of the log lists.
const deliveriesShown = 100

// notifyAdmin is the admins' page: the chat and webhook endpoints (their
// host only, never the address's path or the secret), the form to add
// one, and the delivery log newest first (?before=ID pages back).
func (s *Server) notifyAdmin(c echo.Context) error {
	v, err := s.notifyAdminView(c.Request().Context(), c.QueryParam("before"))
	if err != nil {
		return err
	}
	return s.ok(c, templates.NotifyAdminPage(s.page(c, "Notifications"), v))
}

func (s *Server) notifyAdminView(ctx context.Context, before string) (templates.NotifyAdminView, error) {
	if s.deps.Notify == nil {
		return templates.NotifyAdminView{}, errNoNotify
	}
	var v templates.NotifyAdminView
	policies, err := approvals.PolicyList(ctx, s.deps.DB)
	if err != nil {
		return v, err
	}
	names := map[int64]string{}
	for _, p := range policies {
		names[p.ID] = p.Name
		v.Policies = append(v.Policies, templates.PolicyOption{ID: p.ID, Name: p.Name})
	}
	endpoints, err := s.deps.Notify.Endpoints(ctx)
	if err != nil {
		return v, err
	}
	for _, e := range endpoints {
		v.Endpoints = append(v.Endpoints, templates.EndpointRow{ID: e.ID, Kind: string(e.Kind), Name: e.Name, Host: e.Host(),
			Environment: e.Environment, Policy: names[e.PolicyID], FromSettings: e.FromSettings()})
	}
	f := notify.DeliveryFilter{}
	if before != "" {
		if f.Before, err = strconv.ParseInt(before, 10, 64); err != nil || f.Before <= 0 {
			return v, echo.NewHTTPError(http.StatusBadRequest, "That page link is broken: start again from the first page.")
		}
	}
	list, err := notify.DeliveryList(ctx, s.deps.DB, f, deliveriesShown+1)
	if err != nil {
		return v, err
	}
	if len(list) > deliveriesShown {
		list = list[:deliveriesShown]
		v.OlderURL = "/admin/notifications?before=" + strconv.FormatInt(list[len(list)-1].ID, 10)
	}
	for _, d := range list {
		v.Deliveries = append(v.Deliveries, templates.DeliveryRow{ID: d.ID, RequestID: d.RequestID, Event: string(d.Event),
			Channel: string(d.Channel), Target: d.Target, State: string(d.State), Attempts: d.Attempts, LastError: d.LastError,
			Updated: timeText(d.UpdatedAt), Resend: d.State == notify.StateFailed || d.State == notify.StateSent})
	}
	return v, nil
}

// notifyEndpointAdd adds a chat or webhook endpoint (audited). A webhook's
// signing secret is shown on the page this once; an invalid endpoint
// re-renders the page with the reason (422).
func (s *Server) notifyEndpointAdd(c echo.Context) error {
	if s.deps.Notify == nil {
		return errNoNotify
	}
	ctx := c.Request().Context()
	policy, _ := strconv.ParseInt(c.FormValue("policy_id"), 10, 64)
	in := notify.NewEndpoint{Kind: notify.Channel(c.FormValue("kind")), Name: c.FormValue("name"), URL: c.FormValue("url"),
		Environment: c.FormValue("environment"), PolicyID: policy}
	a := actorOf(c)
	var added notify.Endpoint
	err := pgx.BeginFunc(ctx, s.deps.DB, func(tx pgx.Tx) error {
		var err error
		added, err = notify.EndpointAdd(ctx, tx, audit.User(strconv.FormatInt(a.UserID, 10), a.Name), a.Origin, a.UserID, in)
		return err
	})
	status, problem := http.StatusOK, ""
	if errors.Is(err, notify.ErrInvalid) {
		_, reason, _ := strings.Cut(err.Error(), notify.ErrInvalid.Error()+": ")
		status, problem = http.StatusUnprocessableEntity, reason
	} else if err != nil {
		return err
	}
	v, err := s.notifyAdminView(ctx, "")
	if err != nil {
		return err
	}
	v.Error = problem
	if problem == "" {
		v.NewSecret, v.NewSecretName = added.Secret, added.Name
		c.Response().Header().Set("Cache-Control", "no-store")
	}
	return s.render(c, status, templates.NotifyAdminPage(s.page(c, "Notifications"), v))
}

// notifyEndpointRemove removes an endpoint (audited).
func (s *Server) notifyEndpointRemove(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	ctx := c.Request().Context()
	a := actorOf(c)
	err = pgx.BeginFunc(ctx, s.deps.DB, func(tx pgx.Tx) error {
		return notify.EndpointRemove(ctx, tx, audit.User(strconv.FormatInt(a.UserID, 10), a.Name), a.Origin, id)
	})
	if errors.Is(err, notify.ErrNotFound) {
		return echo.ErrNotFound
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/notifications")
}

// notifyDeliveryResend sends a failed (or sent) delivery again (audited).
func (s *Server) notifyDeliveryResend(c echo.Context) error {
	if s.deps.Notify == nil || s.deps.NotifyInserter == nil {
		return errNoNotify
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	a := actorOf(c)
	err = s.deps.Notify.Resend(c.Request().Context(), s.deps.NotifyInserter, audit.User(strconv.FormatInt(a.UserID, 10), a.Name), a.Origin, id)
	switch {
	case errors.Is(err, notify.ErrNotFound):
		return echo.ErrNotFound
	case errors.Is(err, notify.ErrInvalid):
		return echo.NewHTTPError(http.StatusConflict, "That delivery is still being sent.")
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/notifications")
}
