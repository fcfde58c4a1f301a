package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// emergencyKinds are the changes the break-glass form offers.
var emergencyKinds = []approvals.Kind{approvals.KindRestartServer, approvals.KindStop, approvals.KindStart, approvals.KindDelete}

// emergencyNew is the break-glass form of cluster :uid, for members of an
// emergency group (PORTAL_EMERGENCY_GROUPS); others get 403.
func (s *Server) emergencyNew(c echo.Context) error {
	cl, err := s.emergencyCluster(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.EmergencyNewPage(s.page(c, "Emergency change "+cl.Name), emergencyView(cl, "", "", "", "")))
}

func (s *Server) emergencyCluster(c echo.Context) (inventory.Cluster, error) {
	if s.deps.Approvals == nil {
		return inventory.Cluster{}, errRequestsUnavailable
	}
	if !s.deps.Approvals.MayFileEmergency(actorOf(c)) {
		return inventory.Cluster{}, approvals.ErrNotEmergencyMember
	}
	return inventory.ClusterGet(c.Request().Context(), s.deps.DB, c.Param("uid"))
}

func emergencyView(cl inventory.Cluster, kind, instance, justification, confirm string) templates.EmergencyNewView {
	v := templates.EmergencyNewView{ClusterUID: cl.UID, ClusterName: cl.Name, Environment: cl.Environment,
		Justification: justification, ConfirmName: confirm}
	for _, k := range emergencyKinds {
		v.Kinds = append(v.Kinds, templates.ClusterOption{Value: string(k), Label: string(k), Selected: string(k) == kind})
	}
	for _, srv := range cl.Status.Servers {
		v.Servers = append(v.Servers, templates.ClusterOption{Value: srv.InstanceID,
			Label: string(srv.NodeType) + " " + srv.InstanceID, Selected: srv.InstanceID == instance})
	}
	return v
}

// emergencyCreate files the emergency change and sends it at once.
func (s *Server) emergencyCreate(c echo.Context) error {
	cl, err := s.emergencyCluster(c)
	if err != nil {
		return err
	}
	kind, instance := c.FormValue("kind"), c.FormValue("instance_id")
	justification, confirm := c.FormValue("justification"), c.FormValue("confirm_name")
	v := emergencyView(cl, kind, instance, justification, confirm)
	problem := func(msg string) error {
		v.Error = msg
		return s.render(c, http.StatusUnprocessableEntity, templates.EmergencyNewPage(s.page(c, "Emergency change "+cl.Name), v))
	}
	if strings.TrimSpace(confirm) != cl.Name {
		return problem("Type the cluster's name, " + cl.Name + ", to confirm.")
	}
	in := approvals.NewRequest{Kind: approvals.Kind(kind), ClusterUID: cl.UID}
	if in.Kind == approvals.KindRestartServer {
		in.InstanceID = instance
	}
	r, err := s.deps.Approvals.CreateEmergency(c.Request().Context(), actorOf(c), in, justification)
	if errors.Is(err, approvals.ErrInvalid) {
		return problem("The emergency change could not be filed: " + invalidDetail(err) + ".")
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/requests/"+strconv.FormatInt(r.ID, 10))
}

// emergencyReview records an approver's review of an emergency change.
func (s *Server) emergencyReview(c echo.Context) error {
	id, err := requestID(c)
	if err != nil {
		return err
	}
	if s.deps.Approvals == nil {
		return errRequestsUnavailable
	}
	if err := s.deps.Approvals.ReviewEmergency(c.Request().Context(), actorOf(c), id, c.FormValue("comment")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/requests/"+strconv.FormatInt(id, 10))
}

// adminEmergencies lists the emergencies awaiting review.
func (s *Server) adminEmergencies(c echo.Context) error {
	rows, err := s.emergencyRows(c, "")
	if err != nil {
		return err
	}
	return s.ok(c, templates.AdminEmergenciesPage(s.page(c, "Emergencies awaiting review"), templates.AdminEmergenciesView{Rows: rows}))
}

// emergencyRows are the unreviewed emergencies, of cluster uid only when
// it is not empty.
func (s *Server) emergencyRows(c echo.Context, uid string) ([]templates.AdminEmergencyRow, error) {
	list, err := approvals.EmergencyListUnreviewed(c.Request().Context(), s.deps.DB)
	if err != nil {
		return nil, err
	}
	var rows []templates.AdminEmergencyRow
	now := time.Now()
	for _, e := range list {
		if uid != "" {
			r, err := approvals.Get(c.Request().Context(), s.deps.DB, e.RequestID)
			if err != nil {
				return nil, err
			}
			if r.ClusterUID != uid {
				continue
			}
		}
		rows = append(rows, templates.AdminEmergencyRow{URL: "/requests/" + strconv.FormatInt(e.RequestID, 10),
			Request:   fmt.Sprintf("#%d %s %s", e.RequestID, e.Kind, e.ClusterName),
			Requester: e.Requester.Name, Justification: e.Justification, ReviewDue: timeText(e.ReviewDueAt), Overdue: e.Overdue(now)})
	}
	return rows, nil
}

// emergencyBanner is the flag of request r's page, or nil when r is no
// emergency.
func (s *Server) emergencyBanner(c echo.Context, r approvals.Request, viewer approvals.Actor) (*templates.EmergencyBanner, error) {
	e, err := approvals.EmergencyGet(c.Request().Context(), s.deps.DB, r.ID)
	if errors.Is(err, approvals.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b := &templates.EmergencyBanner{Justification: e.Justification, FiledAt: timeText(e.FiledAt), ReviewDue: timeText(e.ReviewDueAt),
		Overdue: e.Overdue(time.Now()), ReviewComment: e.ReviewComment,
		CanReview: !e.Reviewed() && viewer.Approver && viewer.UserID != e.Requester.ID}
	if e.ReviewedBy != nil {
		b.ReviewedBy, b.ReviewedAt = e.ReviewedBy.Name, timeText(e.ReviewedAt)
	}
	return b, nil
}
