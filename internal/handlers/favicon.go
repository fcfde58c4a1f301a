package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/web/static"
)

// favicon answers the /favicon.ico that browsers and feed readers ask for
// when a response names no icon (pages name the hashed favicon.svg).
func (s *Server) favicon(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, "image/svg+xml", static.Favicon)
}
