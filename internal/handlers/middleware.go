package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

const requestIDHeader = "X-Request-Id"

// requestID gives every request a fresh id of the portal's own, echoed in a
// response header, in logs, on error pages, in security events and in the
// audit log. An X-Request-Id a client (or a proxy) sent is never the id:
// anyone could claim any id there. It is kept, cleaned, for the request's
// log line only (clientRequestID).
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id := hex.EncodeToString(b)
		c.Set(requestIDKey, id)
		if sent := cleanClientRequestID(c.Request().Header.Get(requestIDHeader)); sent != "" {
			c.Set(clientRequestIDKey, sent)
		}
		c.Response().Header().Set(requestIDHeader, id)
		return next(c)
	}
}

const (
	requestIDKey       = "request_id"
	clientRequestIDKey = "client_request_id"
	// clientRequestIDMax bounds what a client's X-Request-Id may put into a
	// log line.
	clientRequestIDMax = 64
)

// RequestID returns the portal's id of the request being handled.
func RequestID(c echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// clientRequestID returns the X-Request-Id the client sent, cleaned, or "".
func clientRequestID(c echo.Context) string {
	id, _ := c.Get(clientRequestIDKey).(string)
	return id
}

// cleanClientRequestID keeps a client's request id fit for a log: printable
// ASCII only (other bytes are dropped), at most clientRequestIDMax long.
func cleanClientRequestID(sent string) string {
	var b strings.Builder
	for i := 0; i < len(sent) && b.Len() < clientRequestIDMax; i++ {
		if ch := sent[i]; ch >= 0x20 && ch <= 0x7e {
			b.WriteByte(ch)
		}
	}
	return strings.TrimSpace(b.String())
}

// recoverPanic turns a panic into an error for the central handler (a clean
// 500 page) and logs the stack with the request id.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.logger.ErrorContext(c.Request().Context(), "panic while handling request",
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
		attrs := []any{"request_id", RequestID(c)}
		if sent := clientRequestID(c); sent != "" {
			attrs = append(attrs, "client_request_id", sent)
		}
		s.logger.Log(req.Context(), level, "request", append(attrs,
			"method", req.Method,
			"path", req.URL.Path,
			"status", c.Response().Status,
			"bytes", c.Response().Size,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"remote_ip", c.RealIP(),
		)...)
		return nil
	}
}
