package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	apidoc "github.com/clusterdesk/clusterdesk/api"
)

// openAPIDocument serves the document the API is tested against; anyone
// may read it.
func (s *Server) openAPIDocument(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", apidoc.OpenAPI)
}
