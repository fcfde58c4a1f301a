package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// Errors of the security middleware; errors.go maps them to pages.
var (
	errCrossSite = errors.New("handlers: cross-site request refused")
	errCSRFToken = errors.New("handlers: missing or wrong CSRF token")
	errNoSignIn  = errors.New("handlers: sign-in is not configured")
)

// csrfHeader and csrfField carry the session's CSRF token: htmx sends the
// header (hx-headers on <body>), plain forms the field.
const (
	csrfHeader = "X-CSRF-Token"
	csrfField  = "csrf_token"
)

// requireSignIn lets through people who are signed in and hold at least one
// role. Without a session (or with an expired one) a page request is
// redirected to sign-in and comes back afterwards; an htmx request gets 401
// with HX-Redirect, so the whole page goes to sign-in instead of a fragment.
// Someone signed in without any role gets the "no access" page (403); an
// htmx request of theirs reloads the page instead of swapping that page into
// a fragment.
func (s *Server) requireSignIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := s.loadSession(c)
		if errors.Is(err, auth.ErrNoSession) || errors.Is(err, auth.ErrSessionExpired) {
			return s.toSignIn(c)
		}
		if err != nil {
			return err
		}
		if !sess.User.HasAnyRole() {
			s.recordEvent(c, auth.Event{Kind: auth.EventDenied, Reason: "no role: the person's groups grant none"})
			if isHTMX(c) { // reload the whole page, which then says so
				c.Response().Header().Set("HX-Refresh", "true")
				return c.NoContent(http.StatusForbidden)
			}
			return s.noAccess(c, sess.User)
		}
		return next(c)
	}
}

// requireRole lets through people who hold any of roles; others get 403,
// logged. It comes after requireSignIn.
func (s *Server) requireRole(roles ...auth.Role) echo.MiddlewareFunc {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	reason := "needs role " + strings.Join(names, " or ")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u, ok := auth.UserFrom(c.Request().Context())
			if !ok || !slices.ContainsFunc(roles, u.Has) {
				s.recordEvent(c, auth.Event{Kind: auth.EventDenied, Reason: reason})
				return echo.ErrForbidden
			}
			return next(c)
		}
	}
}

// csrf guards state-changing requests (every method but GET, HEAD, OPTIONS
// and TRACE): a browser's cross-site request is refused by Sec-Fetch-Site or,
// from older browsers, Origin (checkOrigin); and when there is a session the
// request must carry its CSRF token, compared in constant time, in the
// header X-CSRF-Token or the form field csrf_token of the body (a token in
// the URL leaks through logs, history and Referer, so it does not count).
// Without a session there is no authority to borrow; routes that need one
// put requireSignIn first.
func (s *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if isSafeMethod(req.Method) {
			return next(c)
		}
		if err := s.checkOrigin(req); err != nil {
			_, _ = s.loadSession(c) // only to say whose browser was used
			s.recordEvent(c, auth.Event{Kind: auth.EventDenied, Reason: "cross-site request: " + err.Error()})
			return errCrossSite
		}
		sess, err := s.loadSession(c)
		if errors.Is(err, auth.ErrNoSession) || errors.Is(err, auth.ErrSessionExpired) {
			return next(c)
		}
		if err != nil {
			return err
		}
		// loadSession replaced the request; the form is parsed on the one
		// the handler will read. A body over the limit is refused here
		// (413, errors.go), not taken for a missing token.
		req = c.Request()
		if err := req.ParseForm(); err != nil {
			return echo.ErrBadRequest.WithInternal(err)
		}
		token := req.Header.Get(csrfHeader)
		if token == "" {
			token = req.PostForm.Get(csrfField) // never the query string
		}
		if !sess.ValidCSRF(token) {
			s.recordEvent(c, auth.Event{Kind: auth.EventDenied, Reason: "missing or wrong CSRF token"})
			return errCSRFToken
		}
		return next(c)
	}
}

// errOriginMismatch is checkOrigin's reason for a refusal by Origin.
var errOriginMismatch = errors.New("the Origin header's scheme or host is not the portal's")

// checkOrigin refuses a cross-site request. http.CrossOriginProtection
// judges by Sec-Fetch-Site, or without it by Origin, but then compares the
// host only, so a page at http://portal could post to https://portal; here
// an Origin without Sec-Fetch-Site must also have the portal's scheme
// (https when Deps.Secure, whatever proxy terminated TLS).
func (s *Server) checkOrigin(req *http.Request) error {
	if err := s.crossOrigin.Check(req); err != nil {
		return err
	}
	origin := req.Header.Get("Origin")
	if origin == "" || req.Header.Get("Sec-Fetch-Site") != "" {
		return nil
	}
	scheme := "http://"
	if s.secure {
		scheme = "https://"
	}
	if !strings.EqualFold(origin, scheme+req.Host) {
		return errOriginMismatch
	}
	return nil
}

func isSafeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// loadSession finds the request's session (once per request) and puts it
// into the request context, where auth.UserFrom finds it. An expired or
// unknown session cookie is cleared.
func (s *Server) loadSession(c echo.Context) (*auth.Session, error) {
	if sess, ok := auth.SessionFrom(c.Request().Context()); ok {
		return sess, nil
	}
	if s.deps.Auth == nil {
		return nil, auth.ErrNoSession
	}
	cookie, err := c.Cookie(s.sessionCookie())
	if err != nil {
		return nil, auth.ErrNoSession
	}
	sess, err := s.deps.Auth.Session(c.Request().Context(), cookie.Value)
	if err != nil {
		if errors.Is(err, auth.ErrNoSession) || errors.Is(err, auth.ErrSessionExpired) {
			s.clearCookie(c, s.sessionCookie())
		}
		return nil, err
	}
	c.SetRequest(c.Request().WithContext(auth.WithSession(c.Request().Context(), &sess)))
	return &sess, nil
}

// toSignIn sends the browser to sign in, remembering the page it was on.
func (s *Server) toSignIn(c echo.Context) error {
	req := c.Request()
	c.Response().Header().Add("Vary", "HX-Request")
	if isHTMX(c) {
		// The page to come back to is the one showing, not the fragment.
		next := "/"
		if u, err := url.Parse(req.Header.Get("HX-Current-URL")); err == nil && u.Host == req.Host {
			next = u.RequestURI()
		}
		c.Response().Header().Set("HX-Redirect", signInURL(next))
		return c.NoContent(http.StatusUnauthorized)
	}
	next := "/"
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		next = req.URL.RequestURI()
	}
	return c.Redirect(http.StatusSeeOther, signInURL(next))
}

func signInURL(next string) string {
	next = auth.SafeReturnPath(next)
	if next == "/" {
		return auth.LoginPath
	}
	return auth.LoginPath + "?" + url.Values{"next": {next}}.Encode()
}

// noAccess renders the page for someone signed in without any role.
func (s *Server) noAccess(c echo.Context, u auth.User) error {
	view := templates.NoAccessView{Name: u.Name, Username: u.Username, Email: u.Email, Groups: u.Groups}
	for _, g := range s.deps.Auth.Roles().Grants() {
		view.Grants = append(view.Grants, templates.RoleGrant{Role: string(g.Role), Groups: g.Groups})
	}
	return s.render(c, http.StatusForbidden, templates.NoAccess(s.page(c, "No access"), view))
}

// recordEvent completes a security event with what the request knows (who,
// from where, which request) and records it. A denial records the method
// and path asked for; when nobody is signed in, anyone could have chosen
// them, so they go under ClientSupplied (auth.Event.Details).
func (s *Server) recordEvent(c echo.Context, e auth.Event) {
	req := c.Request()
	e.IP = c.RealIP()
	e.RequestID = RequestID(c)
	u, signedIn := auth.UserFrom(req.Context())
	if signedIn && e.UserID == 0 {
		e.UserID, e.Username, e.Subject = u.ID, u.Username, u.Subject
	}
	if e.Kind == auth.EventDenied {
		if e.UserID != 0 {
			e.Method, e.Path = req.Method, req.URL.Path
		} else {
			e.ClientSupplied = map[string]string{"method": req.Method, "path": req.URL.Path}
		}
	}
	if s.deps.Auth != nil {
		s.deps.Auth.Record(req.Context(), e)
		return
	}
	s.logger.WarnContext(c.Request().Context(), "security event", "event", string(e.Kind), "request_id", e.RequestID, "remote_ip", e.IP, "reason", e.Reason)
}

// pageUser is the signed-in person as the layout shows them, or nil.
func pageUser(c echo.Context) *templates.User {
	u, ok := auth.UserFrom(c.Request().Context())
	if !ok {
		return nil
	}
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = string(r)
	}
	return &templates.User{Name: u.Name, Roles: roles}
}

// csrfToken is the session's CSRF token for the page being built, or "".
func csrfToken(c echo.Context) string {
	if sess, ok := auth.SessionFrom(c.Request().Context()); ok {
		return sess.CSRFToken
	}
	return ""
}
