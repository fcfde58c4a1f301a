package handlers

import (
	"fmt"
	"io"
	"net/http"
	"time"

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
	out := &deadlineWriter{w: c.Response(), rc: http.NewResponseController(c.Response())}
	n, err := audit.Export(ctx, s.deps.DB, q.filter, upTo, format, out)
	if err != nil {
		// The status is sent: the client sees a cut-off file; the log says why.
		return fmt.Errorf("audit export stopped after %d events: %w", n, err)
	}
	return nil
}

// exportIdleTimeout is how long an export waits for a client that stops
// reading. A download that keeps flowing may take longer than the server's
// write timeout (a whole log of millions of events does).
const exportIdleTimeout = time.Minute

// deadlineWriter moves the connection's write deadline forward with every
// write.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(exportIdleTimeout))
	return d.w.Write(p)
}
