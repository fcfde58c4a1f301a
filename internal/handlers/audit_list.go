package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// auditList is the audit log page. An htmx request (a filter change, a
// page link) gets only the results, which htmx swaps in and whose URL it
// pushes; a browser without script gets the whole page from the same URL.
// A filter with mistakes answers 422 with the mistakes on the form.
func (s *Server) auditList(c echo.Context) error {
	ctx := c.Request().Context()
	q := parseAuditQuery(c.QueryParams())
	status := http.StatusOK
	var results templates.AuditResults
	if len(q.form.Errors) > 0 {
		status = http.StatusUnprocessableEntity
		results = templates.AuditResults{Summary: "The filter needs attention.", Errors: errorList(q.form.Errors)}
	} else {
		page, err := audit.List(ctx, s.deps.DB, q.filter, q.page)
		if err != nil {
			return err
		}
		head, err := audit.HeadGet(ctx, s.deps.DB)
		if err != nil {
			return err
		}
		results = auditResults(q, page, head)
	}
	if isHTMX(c) && c.Request().Header.Get("HX-History-Restore-Request") != "true" {
		if status == http.StatusOK {
			c.Response().Header().Set("HX-Push-Url", q.canonicalURL())
		}
		return s.render(c, status, templates.AuditResultsFragment(results))
	}
	view := templates.AuditView{Form: q.form, Results: results, Broken: s.auditBroken(ctx)}
	return s.render(c, status, templates.AuditPage(s.page(c, "Audit log"), view))
}

// auditBroken is the banner's content when the latest verification found
// the chain broken, else nil.
func (s *Server) auditBroken(ctx context.Context) *templates.AuditBroken {
	v, err := audit.LatestVerification(ctx, s.deps.DB)
	if err != nil {
		if !errors.Is(err, audit.ErrNotFound) {
			s.logger.Error("audit: read the latest verification", "err", err)
		}
		return nil
	}
	if v.Result.OK {
		return nil
	}
	return &templates.AuditBroken{
		Seq: v.Result.BrokenSeq, Problem: v.Result.Problem,
		At: v.At.Format(time.RFC3339Nano), AtText: v.At.Format("2006-01-02 15:04:05 MST"),
	}
}

// errorList is the form's errors as sentences, in a stable order.
func errorList(errs map[string]string) []string {
	var out []string
	for _, field := range []string{"q", "actor", "subject_type", "subject_id", "from", "to", "action", "before"} {
		if msg, ok := errs[field]; ok {
			out = append(out, auditFieldLabels[field]+": "+msg)
		}
	}
	return out
}

var auditFieldLabels = map[string]string{
	"q": "Text", "actor": "Actor", "subject_type": "Subject", "subject_id": "Subject id",
	"from": "From", "to": "Until", "action": "Actions", "before": "Page",
}
