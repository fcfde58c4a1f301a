package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// authLogout ends the session on the server and in the browser, then
// continues to the provider's end-session endpoint (with id_token_hint) so
// the person is signed out there too; the provider sends them back to the
// signed-out page. Without a session it goes straight to that page.
func (s *Server) authLogout(c echo.Context) error {
	cookie := cookieValue(c, s.sessionCookie())
	s.clearCookie(c, s.sessionCookie())
	if s.deps.Auth == nil {
		return c.Redirect(http.StatusSeeOther, auth.SignedOutPath)
	}
	u, next, err := s.deps.Auth.Logout(c.Request().Context(), cookie)
	switch {
	case errors.Is(err, auth.ErrNoSession):
		next = auth.SignedOutPath
	case err != nil:
		return err
	default:
		s.recordEvent(c, auth.Event{Kind: auth.EventLogout, UserID: u.ID, Username: u.Username, Subject: u.Subject})
		if next == "" {
			next = auth.SignedOutPath
		}
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", next)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// authSignedOut is where the provider sends people back after sign-out.
func (s *Server) authSignedOut(c echo.Context) error {
	return s.ok(c, templates.SignedOut(s.page(c, "Signed out")))
}
