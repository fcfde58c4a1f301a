package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/ratelimit"
)

// rateLimit answers 429 with Retry-After (whole seconds, at least one) to
// a credential past its rate. A person's tokens share one budget.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, _ := principalFrom(c)
		wait, ok := s.limiter.Take(p.User.ID)
		if !ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(wait)))
			return problem(http.StatusTooManyRequests, "rate-limited", "Too many calls; wait for the time in Retry-After.")
		}
		return next(c)
	}
}
