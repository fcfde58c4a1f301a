package handlers

import (
	"github.com/labstack/echo/v4"
)

// routes declares every route, grouped by who may call it. The middleware
// that guards a group is visible here.
func (s *Server) routes() {
	e := s.echo
	e.Use(s.requestID, s.recoverPanic, s.logRequests)

	// Public: load balancers, static files.
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET(staticPattern, echo.WrapHandler(s.deps.Assets))
	e.HEAD(staticPattern, echo.WrapHandler(s.deps.Assets))

	// Pages.
	e.GET("/", s.home)
}

const staticPattern = "/static/*"
