package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// auditList is the audit log page. An htmx request (a filter change, a
// page link) gets only the results, which htmx swaps in and whose URL it
// pushes; a browser without script gets the whole page from the same URL.
// A filter with mistakes answers 422 with the mistakes on the form.
func (s *Server) auditList(c echo.Context) error {
	ctx := c.Request().Context()
	q, err := s.auditQuery(c)
	if err != nil {
		return err
	}
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
		people, err := auth.PeopleByID(ctx, s.deps.DB, auditPeopleIDs(page.Entries))
		if err != nil {
			return err
		}
		results = auditResults(q, page, head, people)
	}
	if isHTMX(c) && c.Request().Header.Get("HX-History-Restore-Request") != "true" {
		if status == http.StatusOK {
			c.Response().Header().Set("HX-Push-Url", q.canonicalURL())
		}
		return s.render(c, status, templates.AuditResultsFragment(results))
	}
	if err := s.auditSuggestions(ctx, &q.form); err != nil {
		return err
	}
	view := templates.AuditView{Form: q.form, Results: results, Broken: s.auditBroken(ctx)}
	return s.render(c, status, templates.AuditPage(s.page(c, "Audit log"), view))
}

// auditQuery reads the page's filter from the URL and finds the people it
// names.
func (s *Server) auditQuery(c echo.Context) (auditQuery, error) {
	q := parseAuditQuery(c.QueryParams())
	err := resolveAuditActors(c.Request().Context(), s.deps.DB, &q)
	return q, err
}

// auditSuggestionLimit bounds each list of suggestions.
const auditSuggestionLimit = 1000

// auditSuggestions fills the form's suggestions: everyone who signed in
// and the portal's own actors, and every cluster the portal has seen.
func (s *Server) auditSuggestions(ctx context.Context, f *templates.AuditForm) error {
	people, err := auth.PeopleDirectory(ctx, s.deps.DB, auditSuggestionLimit)
	if err != nil {
		return err
	}
	for _, p := range people {
		f.People = append(f.People, templates.AuditOption{Value: p.Username, Label: p.DisplayName()})
	}
	for _, a := range audit.KnownSystemActors() {
		f.People = append(f.People, templates.AuditOption{Value: a.ID, Label: a.Name})
	}
	f.Clusters, err = inventory.ClusterNamesKnown(ctx, s.deps.DB, auditSuggestionLimit)
	return err
}

// auditBroken is the banner's content when the latest verification found
// the chain broken, else nil.
func (s *Server) auditBroken(ctx context.Context) *templates.AuditBroken {
	v, err := audit.LatestVerification(ctx, s.deps.DB)
	if err != nil {
		if !errors.Is(err, audit.ErrNotFound) {
			s.logger.ErrorContext(ctx, "audit: read the latest verification", "err", err)
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
	for _, field := range []string{"person", "cluster", "request", "q", "subject_type", "subject_id", "from", "to", "action", "before"} {
		if msg, ok := errs[field]; ok {
			out = append(out, auditFieldLabels[field]+": "+msg)
		}
	}
	return out
}

var auditFieldLabels = map[string]string{
	"person": "Person", "cluster": "Cluster", "request": "Request",
	"q": "Text", "subject_type": "Subject", "subject_id": "Subject id",
	"from": "From", "to": "Until", "action": "Actions", "before": "Page",
}
