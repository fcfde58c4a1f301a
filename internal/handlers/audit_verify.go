package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// auditVerifyPage shows the chain head and the latest recorded check.
func (s *Server) auditVerifyPage(c echo.Context) error {
	ctx := c.Request().Context()
	head, err := audit.HeadGet(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	view := templates.AuditVerifyView{HeadSeq: head.Seq, HeadHash: head.Hash.String(), Events: head.Events, Pending: head.Pending}
	v, err := audit.LatestVerification(ctx, s.deps.DB)
	switch {
	case errors.Is(err, audit.ErrNotFound):
	case err != nil:
		return err
	default:
		view.Last = &templates.AuditVerification{
			OK: v.Result.OK, Report: v.Result.String(), By: v.Actor.Name,
			At: v.At.Format(time.RFC3339Nano), AtText: v.At.Format("2006-01-02 15:04:05 MST"),
			EventURL: "/audit/events/" + strconv.FormatInt(v.Seq, 10),
		}
	}
	return s.ok(c, templates.AuditVerifyPage(s.page(c, "Audit log integrity"), view))
}

// auditVerifyRun walks the whole chain now, records the result, and shows
// it (303 to the check page).
func (s *Server) auditVerifyRun(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := audit.Verify(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	if _, err := audit.RecordVerification(ctx, s.deps.DB, auditActor(c), auditOrigin(c), r); err != nil {
		return err
	}
	if !r.OK {
		s.logger.ErrorContext(c.Request().Context(), "audit log chain is BROKEN", "broken_seq", r.BrokenSeq, "problem", r.Problem, "request_id", RequestID(c))
	}
	return c.Redirect(http.StatusSeeOther, "/audit/verify")
}

// auditEvent is the page of one event, with the line its hash covers.
func (s *Server) auditEvent(c echo.Context) error {
	seq, err := strconv.ParseInt(c.Param("seq"), 10, 64)
	if err != nil || seq <= 0 {
		return echo.ErrNotFound
	}
	e, err := audit.Get(c.Request().Context(), s.deps.DB, seq)
	if err != nil {
		return err
	}
	line, err := e.Canonical()
	if err != nil {
		return err
	}
	hash, _ := e.ComputeHash()
	people, err := auth.PeopleByID(c.Request().Context(), s.deps.DB, auditPeopleIDs([]audit.Entry{e}))
	if err != nil {
		return err
	}
	view := templates.AuditEventView{Row: auditRow(e, people), Canonical: string(line), HashOK: hash == e.Hash}
	return s.ok(c, templates.AuditEventPage(s.page(c, "Audit event "+strconv.FormatInt(seq, 10)), view))
}
