package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/clusterdesk/clusterdesk/internal/telemetry"
)

// BenchmarkLogLine compares one request log line through the bare JSON
// handler, with the request id passed by hand, with the same line through
// LogHandler, which adds the id from the context, with tracing off (request
// id only) and on (request id, trace and span ids).
func BenchmarkLogLine(b *testing.B) {
	ctx := telemetry.WithRequestID(context.Background(), "0123456789abcdef01234567")
	traced, span := sdktrace.NewTracerProvider().Tracer("bench").Start(ctx, "request")
	defer span.End()
	for _, bc := range []struct {
		name    string
		handler slog.Handler
		ctx     context.Context
		byHand  []any
	}{
		{"bare", slog.NewJSONHandler(io.Discard, nil), ctx, []any{"request_id", telemetry.RequestID(ctx)}},
		{"ids-tracing-off", telemetry.LogHandler(slog.NewJSONHandler(io.Discard, nil)), ctx, nil},
		{"ids-tracing-on", telemetry.LogHandler(slog.NewJSONHandler(io.Discard, nil)), traced, nil},
	} {
		logger := slog.New(bc.handler)
		attrs := append([]any{"method", "GET", "path", "/requests/42", "status", 200, "duration_ms", 1.5}, bc.byHand...)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				logger.InfoContext(bc.ctx, "request", attrs...)
			}
		})
	}
}
