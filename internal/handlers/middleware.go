package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
)

const requestIDHeader = "X-Request-Id"

// requestID gives every request an id, echoed in a response header, in logs
// and on error pages. An id set by a proxy in front is kept when it looks sane.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(requestIDHeader)
		if len(id) < 8 || len(id) > 64 || !isToken(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(requestIDKey, id)
		c.Response().Header().Set(requestIDHeader, id)
		return next(c)
	}
}

const requestIDKey = "request_id"

// RequestID returns the id of the request being handled.
func RequestID(c echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

func isToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// recoverPanic turns a panic into an error for the central handler (a clean
// 500 page) and logs the stack with the request id.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.logger.Error("panic while handling request",
					"request_id", RequestID(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("%w: %v", errPanic, r)
			}
		}()
		return next(c)
	}
}

// logRequests writes one line per request once it is done.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // write the error response now, so the status is known
		}
		req := c.Request()
		level := slog.LevelInfo
		if req.URL.Path == "/healthz" || req.URL.Path == "/readyz" || len(req.URL.Path) > 8 && req.URL.Path[:8] == "/static/" {
			level = slog.LevelDebug
		}
		s.logger.Log(req.Context(), level, "request",
			"request_id", RequestID(c),
			"method", req.Method,
			"path", req.URL.Path,
			"status", c.Response().Status,
			"bytes", c.Response().Size,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"remote_ip", c.RealIP(),
		)
		return nil
	}
}
