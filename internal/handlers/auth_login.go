package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// authLogin starts a sign-in: it binds a new sign-in to this browser with a
// short-lived cookie and sends the browser to the provider. The query
// parameter next is the page to come back to; anything but a path on this
// site is ignored.
func (s *Server) authLogin(c echo.Context) error {
	if s.deps.Auth == nil {
		return errNoSignIn
	}
	start, err := s.deps.Auth.BeginLogin(c.Request().Context(), c.QueryParam("next"))
	if err != nil {
		return err
	}
	s.setCookie(c, s.loginCookie(), start.Cookie, s.deps.Auth.LoginTimeout())
	return c.Redirect(http.StatusSeeOther, start.RedirectURL)
}

// authCallback finishes a sign-in where the provider sends the browser back.
// The sign-in cookie is used up either way. On success the person gets a
// new session (any earlier one ends) and returns to the page they wanted;
// otherwise they see why in general words, and the log says exactly why.
func (s *Server) authCallback(c echo.Context) error {
	if s.deps.Auth == nil {
		return errNoSignIn
	}
	loginCookie := cookieValue(c, s.loginCookie())
	s.clearCookie(c, s.loginCookie())
	created, err := s.deps.Auth.FinishLogin(c.Request().Context(), loginCookie, auth.Callback{
		Code:      c.QueryParam("code"),
		State:     c.QueryParam("state"),
		Error:     c.QueryParam("error"),
		ErrorDesc: c.QueryParam("error_description"),
	}, cookieValue(c, s.sessionCookie()))
	var failed *auth.LoginError
	if errors.As(err, &failed) {
		s.recordEvent(c, auth.Event{Kind: auth.EventLoginFailed, Reason: failed.Reason})
		return s.render(c, http.StatusBadRequest, templates.SignInFailed(s.page(c, "Sign-in failed"), templates.SignInFailedView{Cancelled: failed.Cancelled}))
	}
	if err != nil {
		return err
	}
	s.setCookie(c, s.sessionCookie(), created.Cookie, 0)
	u := created.Session.User
	s.recordEvent(c, auth.Event{Kind: auth.EventLogin, UserID: u.ID, Username: u.Username, Subject: u.Subject})
	return c.Redirect(http.StatusSeeOther, created.ReturnTo)
}
