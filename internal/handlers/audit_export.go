package handlers

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// auditExport downloads everything the filter selects, as CSV or JSON Lines
// (?format=csv|jsonl). The download is recorded first, as an audit.exported
// event naming the filter, and holds exactly the events that existed then.
// It streams straight from the database to the client: memory stays flat
// however many events match.
func (s *Server) auditExport(c echo.Context) error {
	q, err := s.auditQuery(c)
	if err != nil {
		return err
	}
	if len(q.form.Errors) > 0 {
		return echo.NewHTTPError(http.StatusBadRequest, errorList(q.form.Errors))
	}
	format := audit.Format(c.QueryParam("format"))
	if !format.Valid() {
		return echo.NewHTTPError(http.StatusBadRequest, "format must be csv or jsonl")
	}
	ctx := c.Request().Context()
	var upTo int64
	upTo, err = audit.RecordExport(ctx, s.deps.DB, auditActor(c), auditOrigin(c), q.filter, format)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, format.ContentType())
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="clusterdesk-audit-to-%d.%s"`, upTo, format))
	c.Response().WriteHeader(http.StatusOK)
	out := audit.IdleWriter(c.Response())
	n, err := audit.Export(ctx, s.deps.DB, q.filter, upTo, format, out)
	if err != nil {
		// The status is sent: the client sees a cut-off file; the log says why.
		return fmt.Errorf("audit export stopped after %d events: %w", n, err)
	}
	return nil
}
