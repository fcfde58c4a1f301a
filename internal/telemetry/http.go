package telemetry

import (
	"errors"
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ClientTransport wraps base so that each request it carries is a client
// span, named by name(req), and sends the W3C trace context (traceparent)
// to the server. The span ends when the answer's headers are in (or the
// request failed). It records the method, the server, route (the span's
// name) and the status; never headers, the query or the body.
func ClientTransport(base http.RoundTripper, name func(*http.Request) string) http.RoundTripper {
	return clientTransport{base: base, name: name}
}

type clientTransport struct {
	base http.RoundTripper
	name func(*http.Request) string
}

func (t clientTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host, port := req.URL.Hostname(), req.URL.Port()
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", req.Method),
		attribute.String("server.address", host),
	}
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, attribute.Int("server.port", p))
	}
	ctx, span := Tracer().Start(req.Context(), t.name(req), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()
	out := req.Clone(ctx)
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		span.SetAttributes(attribute.String("error.type", errorType(err)))
		span.SetStatus(codes.Error, errorType(err))
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
	}
	return resp, nil
}

// errorType names a transport failure without its message, which may
// quote the URL.
func errorType(err error) string {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return "timeout"
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return "connection"
	}
	return "transport"
}
