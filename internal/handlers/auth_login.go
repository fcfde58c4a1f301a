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
// site is ignored. While the provider is unreachable it says so (503).
func (s *Server) authLogin(c echo.Context) error {
	if s.deps.Auth == nil {
		return errNoSignIn
	}
	start, err := s.deps.Auth.BeginLogin(c.Request().Context(), c.QueryParam("next"))
	if errors.Is(err, auth.ErrProviderUnavailable) {
		return s.signInUnavailable(c, err)
	}
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
	cb := auth.Callback{
		Code:      c.QueryParam("code"),
		State:     c.QueryParam("state"),
		Error:     c.QueryParam("error"),
		ErrorDesc: c.QueryParam("error_description"),
	}
	created, err := s.deps.Auth.FinishLogin(c.Request().Context(), loginCookie, cb, cookieValue(c, s.sessionCookie()))
	if errors.Is(err, auth.ErrProviderUnavailable) {
		return s.signInUnavailable(c, err)
	}
	var failed *auth.LoginError
	if errors.As(err, &failed) {
		s.recordEvent(c, callbackFailure(failed, cb))
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

// callbackFailure is the security event of a refused callback. A
// provider's error and error_description arrive in the query string, where
// anyone can write them: when they are the reason, the process log quotes
// them in the reason (capped), and the audit log keeps its own words as the
// reason and them under ClientSupplied.
func callbackFailure(failed *auth.LoginError, cb auth.Callback) auth.Event {
	e := auth.Event{Kind: auth.EventLoginFailed, Reason: failed.Reason}
	if cb.Error != "" && failed.Reason == "the provider answered "+cb.Error+": "+cb.ErrorDesc {
		e.AuditReason = "the callback carries an error from the provider"
		e.ClientSupplied = map[string]string{"error": cb.Error, "error_description": cb.ErrorDesc}
	}
	return e
}

// signInRetryAfter is what an unavailable sign-in asks browsers to wait.
const signInRetryAfter = "5"

// signInUnavailable answers a sign-in while the provider has not been
// reached: a page that says so (503, Retry-After), the reason in the log.
// Signed-in people are not affected; only new sign-ins wait.
func (s *Server) signInUnavailable(c echo.Context, err error) error {
	s.logger.WarnContext(c.Request().Context(), "sign-in unavailable", "request_id", RequestID(c), "err", err)
	c.Response().Header().Set("Retry-After", signInRetryAfter)
	view := templates.ErrorView{
		Status:  http.StatusServiceUnavailable,
		Heading: "Sign-in unavailable",
		Message: "The sign-in service is unreachable; try again in a moment.",
	}
	return s.render(c, view.Status, templates.ErrorPage(s.page(c, view.Heading), view))
}
