package handlers

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/auth"
)

// changeLimiter is a token bucket per signed-in person for state-changing
// requests. A bucket holds perMinute tokens and gains one back every
// minute/perMinute, so a person may send perMinute changes at once and then
// perMinute a minute. The limiter is in memory: each replica of the portal
// counts on its own.
//
// A bucket is kept as the moment it is full again. A full bucket is the same
// as none, so buckets are dropped once full: the map holds only the people
// who made a change within the last minute.
type changeLimiter struct {
	interval time.Duration // how long one token takes to come back
	window   time.Duration // how long an empty bucket takes to fill
	now      func() time.Time

	mu    sync.Mutex
	full  map[int64]time.Time // by user id: when the bucket is full again
	swept time.Time           // when full buckets were last dropped
}

// newChangeLimiter returns a limiter of perMinute changes a minute, or nil
// (no limit) when perMinute is zero or less. now is its clock; nil is
// time.Now.
func newChangeLimiter(perMinute int, now func() time.Time) *changeLimiter {
	if perMinute <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	interval := time.Minute / time.Duration(perMinute)
	return &changeLimiter{
		interval: interval,
		window:   interval * time.Duration(perMinute),
		now:      now,
		full:     make(map[int64]time.Time),
	}
}

// take spends one of the person's tokens. When the bucket is empty nothing
// is spent, ok is false and wait is how long until a token is back.
func (l *changeLimiter) take(userID int64) (wait time.Duration, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	full := l.full[userID]
	if full.Before(now) {
		full = now
	}
	next := full.Add(l.interval)
	if over := next.Sub(now) - l.window; over > 0 {
		return over, false
	}
	l.full[userID] = next
	return 0, true
}

// sweep drops the buckets that are full again, at most once a window, so
// that memory stays bounded by the people active within the last minute
// at a cost spread over a minute's requests.
func (l *changeLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < l.window {
		return
	}
	for id, full := range l.full {
		if !full.After(now) {
			delete(l.full, id)
		}
	}
	l.swept = now
}

// buckets is how many people's buckets are held (tests).
func (l *changeLimiter) buckets() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.full)
}

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
		if s.changes == nil || isSafeMethod(c.Request().Method) {
			return next(c)
		}
		u, signedIn := auth.UserFrom(c.Request().Context())
		if !signedIn {
			return next(c)
		}
		wait, ok := s.changes.take(u.ID)
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
	secs := retryAfterSeconds(wait)
	s.logger.WarnContext(c.Request().Context(), "rate limited", "request_id", RequestID(c), "user_id", u.ID, "username", u.Username,
		"method", c.Request().Method, "path", c.Request().URL.Path, "retry_after_s", secs)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return say(errTooManyChanges, tooManyChangesMessage(secs))
}

// retryAfterSeconds rounds a wait up to whole seconds, at least one.
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}

func tooManyChangesMessage(secs int) string {
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	return fmt.Sprintf("You are sending changes faster than the portal accepts; wait %d %s and try again.", secs, unit)
}
