// Package telemetry sets up the portal's OpenTelemetry tracing and carries
// what every log line of a request or job should say: its request id and
// its trace id.
//
// Tracing is off unless the process environment names an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). Every
// other standard OTEL_* variable is read by the OpenTelemetry SDK itself:
// headers, timeout, compression, certificates, OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and its argument, and the
// batch processor's OTEL_BSP_* settings. The spans themselves are started
// where the work happens (HTTP requests in internal/handlers, jobs in
// internal/worker, Cloud Manager calls in internal/cloudapi, SQL statements
// through QueryTracer) with the global tracer provider and propagator that
// Setup installs; while tracing is off those are OpenTelemetry's no-ops.
//
// Spans never carry secrets, tokens, request bodies or SQL arguments.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceName is the service.name of the portal's spans unless
// OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) says
// otherwise.
const ServiceName = "clusterdesk"

// InstrumentationName names the tracer of the portal's own spans.
const InstrumentationName = "github.com/clusterdesk/clusterdesk"

// Tracer is the tracer the portal's packages start their spans with: the
// global provider's, so that it follows Setup.
func Tracer() trace.Tracer { return otel.Tracer(InstrumentationName) }

// Tracing is the process's tracing, on or off. Shutdown flushes and stops
// it; it is safe to call on an off Tracing.
type Tracing struct {
	provider *sdktrace.TracerProvider // nil when off
	endpoint string                   // as configured, without credentials
	service  string                   // service.name of the spans
	why      string                   // why tracing is off
}

// Setup starts tracing when the process environment names an OTLP
// endpoint, and returns an off Tracing otherwise (or when OTEL_SDK_DISABLED
// is true, or OTEL_TRACES_EXPORTER is none). It refuses a protocol other
// than http/protobuf. When on, it installs the tracer provider and the W3C
// trace-context propagator globally and sends spans in batches over
// OTLP/HTTP; export errors are logged at warn level. version becomes
// service.version.
//
// Baggage is not propagated: what a client puts there would travel into
// jobs' metadata and on to Cloud Manager.
func Setup(ctx context.Context, version string, logger *slog.Logger) (*Tracing, error) {
	endpoint := firstSet("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
	switch {
	case endpoint == "":
		return &Tracing{why: "OTEL_EXPORTER_OTLP_ENDPOINT is not set"}, nil
	case strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true"):
		return &Tracing{why: "OTEL_SDK_DISABLED is true"}, nil
	case strings.EqualFold(os.Getenv("OTEL_TRACES_EXPORTER"), "none"):
		return &Tracing{why: "OTEL_TRACES_EXPORTER is none"}, nil
	}
	// The gRPC exporter would bring a second stack for the same spans;
	// every collector serves OTLP/HTTP too (port 4318).
	if protocol := firstSet("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"); protocol != "" && protocol != "http/protobuf" {
		return nil, fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_PROTOCOL=%s: the portal sends traces over OTLP/HTTP only: use http/protobuf (a collector's port 4318)", protocol)
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		// Ours first: the environment's detector comes after and wins.
		resource.WithAttributes(
			attribute.String("service.name", ServiceName),
			attribute.String("service.version", version),
		),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: resource (OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	// The sampler (OTEL_TRACES_SAMPLER) and the batch processor's
	// settings (OTEL_BSP_*) are read from the environment by the SDK.
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
	)
	service, _ := res.Set().Value("service.name")
	t := &Tracing{
		provider: provider,
		endpoint: withoutCredentials(endpoint),
		service:  service.AsString(),
	}
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing: OpenTelemetry error (spans may be lost)", "err", err)
	}))
	return t, nil
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t.provider != nil }

// Shutdown exports the spans still buffered, within ctx, stops the
// exporter and makes the global tracer provider and propagator no-ops
// again, so that a later Setup in the same process (a test) starts afresh.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	err := t.provider.Shutdown(ctx)
	otel.SetTracerProvider(noop.NewTracerProvider())
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	t.provider = nil
	if err != nil {
		return fmt.Errorf("telemetry: flush spans: %w", err)
	}
	return nil
}

// LogValue describes the tracing for the configuration printed at start:
// on with its endpoint (credentials removed; headers, which may hold an
// API key, are never shown), or off and why.
func (t *Tracing) LogValue() slog.Value {
	if t.provider == nil {
		return slog.GroupValue(slog.Bool("enabled", false), slog.String("why", t.why))
	}
	sampler := os.Getenv("OTEL_TRACES_SAMPLER")
	if sampler == "" {
		sampler = "parentbased_always_on"
	}
	return slog.GroupValue(
		slog.Bool("enabled", true),
		slog.String("endpoint", t.endpoint),
		slog.String("service_name", t.service),
		slog.String("sampler", sampler),
	)
}

func firstSet(names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(os.Getenv(n)); v != "" {
			return v
		}
	}
	return ""
}

// withoutCredentials drops a URL's user information and query, which may
// hold credentials, for printing.
func withoutCredentials(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
