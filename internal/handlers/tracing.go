package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/clusterdesk/clusterdesk/internal/telemetry"
)

// traceRequests makes each request a server span named by its route
// pattern ("POST /requests/:id/approve"), continuing a trace context the
// client sent (traceparent), and puts the request id and the span into the
// request's context: every log line written with that context carries both
// (telemetry.LogHandler), and so do the SQL statements, Cloud Manager calls
// and jobs it leads to. It runs right after requestID, outside the request
// log line, so that line has the trace id too. Without tracing the span is
// OpenTelemetry's no-op and only the request id is added.
func (s *Server) traceRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		ctx := telemetry.WithRequestID(req.Context(), RequestID(c))
		ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(req.Header))
		route := c.Path()
		name := req.Method
		if route != "" {
			name += " " + route
		}
		ctx, span := telemetry.Tracer().Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", req.Method),
			attribute.String("http.route", route),
			attribute.String("url.path", req.URL.Path),
			attribute.String("client.address", c.RealIP()),
			attribute.String("clusterdesk.request_id", RequestID(c)),
		))
		defer span.End()
		c.SetRequest(req.WithContext(ctx))
		err := next(c)
		status := c.Response().Status
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		return err
	}
}

// logSlowRequests logs, at warn level, each request that took longer than
// Deps.SlowRequest (zero or less: none), with its route, status, duration
// and request id. Event streams stay open by design and are never slow.
// It runs outside the request log line, which writes an error's response,
// so the status is final.
func (s *Server) logSlowRequests(next echo.HandlerFunc) echo.HandlerFunc {
	threshold := s.deps.SlowRequest
	if threshold <= 0 {
		return next
	}
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		took := time.Since(start)
		if took <= threshold || strings.HasPrefix(c.Response().Header().Get(echo.HeaderContentType), "text/event-stream") {
			return err
		}
		req := c.Request()
		s.logger.WarnContext(req.Context(), "slow request",
			"request_id", RequestID(c),
			"method", req.Method,
			"route", c.Path(),
			"status", c.Response().Status,
			"duration_ms", float64(took.Microseconds())/1000,
			"threshold", threshold.String(),
		)
		return err
	}
}
