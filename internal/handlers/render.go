package handlers

import (
	"bytes"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/web/templates"
)

// render writes a component with status. It renders into a buffer first, so a
// failing template gives a clean 500 instead of half a page.
func (s *Server) render(c echo.Context, status int, component templ.Component) error {
	var buf bytes.Buffer
	if err := component.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Add("Vary", "HX-Request")
	return c.Blob(status, echo.MIMETextHTMLCharsetUTF8, buf.Bytes())
}

// page builds the layout-wide data of the current request.
func (s *Server) page(c echo.Context, title string) templates.Page {
	return templates.Page{
		Title:     title,
		User:      pageUser(c),
		CSRFToken: csrfToken(c),
		Nonce:     cspNonce(c),
		Asset:     s.deps.Assets.Path,
		RequestID: RequestID(c),
		Path:      c.Request().URL.Path,
		// The counts need a viewer and a stream (notify_counts.go).
		LiveCounts: s.deps.Live != nil,
	}
}

func isHTMX(c echo.Context) bool {
	return c.Request().Header.Get("HX-Request") == "true"
}

// ok is a shorthand for rendering a full page with 200.
func (s *Server) ok(c echo.Context, component templ.Component) error {
	return s.render(c, http.StatusOK, component)
}
