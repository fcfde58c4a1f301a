package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// limiter is a token bucket per credential: rate calls at once, refilled at
// rate a minute. It is kept in memory, per replica, like the pages' limit
// of state changes; buckets that have refilled are forgotten.
type limiter struct {
	rate    float64 // calls a minute, and the burst; <= 0: no limit
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rate int, now func() time.Time) *limiter {
	return &limiter{rate: float64(rate), now: now, buckets: map[string]*bucket{}}
}

// take spends one call of key; when none is left it returns how long until
// one is.
func (l *limiter) take(key string) (ok bool, wait time.Duration) {
	if l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	perSecond := l.rate / 60
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if b.tokens+now.Sub(b.at).Seconds()*perSecond >= l.rate {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, found := l.buckets[key]
	if !found {
		b = &bucket{tokens: l.rate, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.rate, b.tokens+now.Sub(b.at).Seconds()*perSecond)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / perSecond * float64(time.Second))
}

// rateLimit answers 429 with Retry-After (whole seconds, at least one) to
// a credential past its rate. A person's tokens share one budget.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, _ := principalFrom(c)
		ok, wait := s.limiter.take(strconv.FormatInt(p.User.ID, 10))
		if !ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			return problem(http.StatusTooManyRequests, "rate-limited", "Too many calls; wait for the time in Retry-After.")
		}
		return next(c)
	}
}
