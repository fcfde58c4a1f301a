package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/database"
)

// healthz answers 200 while the process runs (liveness).
func (s *Server) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz answers 200 when the database is reachable and its schema current,
// 503 with the reason otherwise (readiness).
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.deps.Ready(ctx); err != nil {
		s.logger.Warn("not ready", "err", err)
		return c.String(http.StatusServiceUnavailable, "not ready: "+readinessReason(err)+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// readinessReason says why without leaking connection details.
func readinessReason(err error) string {
	if errors.Is(err, database.ErrSchemaBehind) {
		return "database schema is behind (run: portal migrate up)"
	}
	return "database unreachable"
}
