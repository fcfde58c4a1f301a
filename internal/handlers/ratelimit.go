package handlers

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/ratelimit"
)

// limitChanges refuses a signed-in person's state-changing request (every
// method but GET, HEAD, OPTIONS and TRACE) once they have sent more than
// Deps.RateLimitPerMinute in a minute: 429 with Retry-After in whole
// seconds, and a page (or, for htmx, a message in #flash) saying how long
// to wait. Reads are never limited here, nor are requests without a
// session: those reach no state change but sign-out, and the security
// events they cause are bounded by auth.LimitAnonymous. It comes after
// requireSignIn and csrf, so it knows whose request it is and a request
// they refused costs no token.
func (s *Server) limitChanges(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if isSafeMethod(c.Request().Method) {
			return next(c)
		}
		u, signedIn := auth.UserFrom(c.Request().Context())
		if !signedIn {
			return next(c)
		}
		wait, ok := s.changes.Take(u.ID)
		if ok {
			return next(c)
		}
		return s.tooManyChanges(c, u, wait)
	}
}

// errTooManyChanges refuses a change of a person over their rate.
var errTooManyChanges = errors.New("handlers: too many changes")

// tooManyChanges refuses a request of u for limitChanges, through the
// central error handler, with the wait in the message and in Retry-After.
func (s *Server) tooManyChanges(c echo.Context, u auth.User, wait time.Duration) error {
	secs := ratelimit.RetryAfterSeconds(wait)
	s.logger.WarnContext(c.Request().Context(), "rate limited", "request_id", RequestID(c), "user_id", u.ID, "username", u.Username,
		"method", c.Request().Method, "path", c.Request().URL.Path, "retry_after_s", secs)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return say(errTooManyChanges, tooManyChangesMessage(secs))
}

func tooManyChangesMessage(secs int) string {
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	return fmt.Sprintf("You are sending changes faster than the portal accepts; wait %d %s and try again.", secs, unit)
}
