package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/clusterdesk/clusterdesk/internal/telemetry"
)

// logLine logs one record through telemetry.LogHandler with ctx and
// returns it decoded.
func logLine(t *testing.T, ctx context.Context, log func(*slog.Logger, context.Context)) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	log(slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))), ctx)
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	return line
}

func TestLogHandlerAddsTheRequestAndTraceIDs(t *testing.T) {
	t.Parallel()
	provider := sdktrace.NewTracerProvider()
	ctx, span := provider.Tracer("test").Start(telemetry.WithRequestID(t.Context(), "req-1"), "work")
	defer span.End()

	line := logLine(t, ctx, func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "hello") })
	require.Equal(t, "req-1", line["request_id"])
	require.Equal(t, span.SpanContext().TraceID().String(), line["trace_id"])
	require.Equal(t, span.SpanContext().SpanID().String(), line["span_id"])

	// A request id given explicitly is not repeated, nor one added with With.
	var buf bytes.Buffer
	logger := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil)))
	logger.InfoContext(ctx, "explicit", "request_id", "req-1")
	logger.With("request_id", "req-1").InfoContext(ctx, "with")
	require.Equal(t, 2, strings.Count(buf.String(), `"request_id"`), buf.String())

	// Without the context's help, a line has neither.
	line = logLine(t, ctx, func(l *slog.Logger, _ context.Context) { l.Info("no context") })
	require.NotContains(t, line, "request_id")
	require.NotContains(t, line, "trace_id")

	// Without a span (tracing off), the request id alone.
	line = logLine(t, telemetry.WithRequestID(t.Context(), "req-2"), func(l *slog.Logger, ctx context.Context) { l.WarnContext(ctx, "off") })
	require.Equal(t, "req-2", line["request_id"])
	require.NotContains(t, line, "trace_id")

	// Wrapping twice adds the ids once.
	buf.Reset()
	slog.New(telemetry.LogHandler(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil)))).InfoContext(ctx, "twice")
	require.Equal(t, 1, strings.Count(buf.String(), `"trace_id"`), buf.String())
}

// With no endpoint in the environment, Setup starts nothing: no exporter,
// the global tracer provider stays OpenTelemetry's no-op and spans record
// nothing.
func TestSetupIsOffWithoutAnEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	before := otel.GetTracerProvider()
	tracing, err := telemetry.Setup(t.Context(), "test", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.False(t, tracing.Enabled())
	require.True(t, before == otel.GetTracerProvider(), "the global provider is untouched")
	_, span := telemetry.Tracer().Start(t.Context(), "nothing")
	require.False(t, span.IsRecording())
	span.End()
	require.Equal(t, "[enabled=false why=OTEL_EXPORTER_OTLP_ENDPOINT is not set]", tracing.LogValue().Resolve().String())
	require.NoError(t, tracing.Shutdown(t.Context()))

	// A protocol the portal does not speak is refused, not ignored.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	_, err = telemetry.Setup(t.Context(), "test", slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: the portal sends traces over OTLP/HTTP only")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")

	// An endpoint with OTEL_SDK_DISABLED stays off too.
	t.Setenv("OTEL_SDK_DISABLED", "true")
	tracing, err = telemetry.Setup(t.Context(), "test", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.False(t, tracing.Enabled())
}

// With an endpoint, Setup installs the provider and the W3C propagator;
// the printed description drops credentials from the endpoint; Shutdown
// puts the no-ops back.
func TestSetupWithAnEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://user:pa55word@127.0.0.1:1/?key=s3cret")
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=very-secret-key")
	t.Setenv("OTEL_SERVICE_NAME", "portal-test")
	tracing, err := telemetry.Setup(t.Context(), "test", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.True(t, tracing.Enabled())
	described := tracing.LogValue().Resolve().String()
	require.Contains(t, described, "endpoint=http://127.0.0.1:1/")
	require.Contains(t, described, "service_name=portal-test")
	for _, secret := range []string{"pa55word", "s3cret", "very-secret-key"} {
		require.NotContains(t, described, secret)
	}

	ctx, span := telemetry.Tracer().Start(t.Context(), "recorded")
	require.True(t, span.IsRecording())
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	require.Contains(t, carrier["traceparent"], span.SpanContext().TraceID().String())
	span.End()

	// Nothing listens at the endpoint: the flush fails, quickly, and
	// tracing is off afterwards all the same.
	ctx, cancel := context.WithTimeout(t.Context(), 0)
	defer cancel()
	_ = tracing.Shutdown(ctx)
	_, span = telemetry.Tracer().Start(t.Context(), "after")
	require.False(t, span.IsRecording())
	require.Empty(t, otel.GetTextMapPropagator().Fields(), "no trace context is sent any more")
}

// The client transport makes a span of each call and sends its context in
// traceparent; the server sees the span's trace and span ids.
func TestClientTransportPropagatesTheTrace(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})

	var seen string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get("traceparent")
		w.WriteHeader(http.StatusConflict)
	}))
	defer server.Close()
	client := &http.Client{Transport: telemetry.ClientTransport(http.DefaultTransport, func(r *http.Request) string { return "call " + r.Method })}
	ctx, parent := provider.Tracer("test").Start(t.Context(), "parent")
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, server.URL+"/clusters/x?secret=1", strings.NewReader("body-secret"))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer token-secret")
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	parent.End()

	spans := recorder.Ended()
	require.Len(t, spans, 2)
	call := spans[0]
	require.Equal(t, "call PATCH", call.Name())
	require.Equal(t, trace.SpanKindClient, call.SpanKind())
	require.Equal(t, parent.SpanContext().SpanID(), call.Parent().SpanID())
	require.Equal(t, "00-"+call.SpanContext().TraceID().String()+"-"+call.SpanContext().SpanID().String()+"-01", seen)
	for _, a := range call.Attributes() {
		for _, secret := range []string{"secret", "token"} {
			require.NotContains(t, a.Value.String(), secret, a.Key)
		}
	}
	require.Equal(t, "Conflict", call.Status().Description)
}
