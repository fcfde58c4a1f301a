package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/database"
)

// healthz answers 200 while the process runs (liveness).
func (s *Server) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// providerDown is readyz's word for an undiscovered sign-in provider.
const providerDown = "identity provider unreachable (new sign-ins wait for it; signed-in people go on)"

// readyz answers 200 when the database is reachable and its schema current,
// 503 with the reason otherwise (readiness). Each missing dependency is
// named: "database …" and "identity provider …". An unreachable identity
// provider alone leaves the portal ready but degraded (200, saying so):
// signed-in people and the worker go on, and taking every replica out of
// service because the provider is down would stop them too.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	var missing []string
	dbErr := s.deps.Ready(ctx)
	if dbErr != nil {
		s.logger.WarnContext(c.Request().Context(), "not ready", "err", dbErr)
		missing = append(missing, readinessReason(dbErr))
	}
	if s.deps.Auth != nil && s.deps.Auth.ProviderStatus() != nil {
		missing = append(missing, providerDown)
	}
	switch {
	case dbErr != nil:
		return c.String(http.StatusServiceUnavailable, "not ready: "+strings.Join(missing, "; ")+"\n")
	case len(missing) > 0:
		return c.String(http.StatusOK, "ready, degraded: "+strings.Join(missing, "; ")+"\n")
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
