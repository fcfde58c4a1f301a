package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Cookie names. Over https they carry the __Host- prefix, which makes the
// browser insist on Secure, Path=/ and no Domain, so no sibling subdomain
// can set or shadow them.
const (
	sessionCookieName = "clusterdesk_session"
	loginCookieName   = "clusterdesk_login"
)

func (s *Server) cookieName(name string) string {
	if s.secure {
		return "__Host-" + name
	}
	return name
}

func (s *Server) sessionCookie() string { return s.cookieName(sessionCookieName) }
func (s *Server) loginCookie() string   { return s.cookieName(loginCookieName) }

// setCookie sets an HttpOnly, SameSite=Lax cookie on path /, Secure over
// https. Lax (not Strict) because the sign-in cookie must come back on the
// provider's top-level redirect to the callback, and a session cookie must
// come along when someone follows a link from chat into the portal. maxAge
// 0 makes a cookie that ends with the browser session.
func (s *Server) setCookie(c echo.Context, name, value string, maxAge time.Duration) {
	c.SetCookie(&http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge.Seconds()),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// clearCookie tells the browser to drop a cookie.
func (s *Server) clearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{
		Name:     name,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// cookieValue is the value of the named cookie, or "".
func cookieValue(c echo.Context, name string) string {
	if ck, err := c.Cookie(name); err == nil {
		return ck.Value
	}
	return ""
}
