package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying the portal's id of the request being
// handled, for every log line written with it (LogHandler).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// LogHandler wraps h so that a record logged with a context (slog's
// *Context methods, or Log) says which request and trace it belongs to:
// request_id when the context carries one (WithRequestID) and the record
// does not already have it, and trace_id and span_id when the context holds
// a span being recorded. Wrapping a LogHandler again returns it unchanged.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(logHandler); ok {
		return h
	}
	return logHandler{next: h}
}

type logHandler struct {
	next slog.Handler
	// hasRequestID: request_id was added with WithAttrs, so records need
	// no other.
	hasRequestID bool
}

func (h logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.next.Handle(ctx, r)
	}
	var ids [3]slog.Attr
	n := 0
	if id := RequestID(ctx); id != "" && !h.hasRequestID && !hasAttr(r, "request_id") {
		ids[n] = slog.String("request_id", id)
		n++
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && sc.IsSampled() {
		ids[n], ids[n+1] = slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String())
		n += 2
	}
	if n > 0 {
		// A record may be shared with other handlers: add to a copy.
		r = r.Clone()
		r.AddAttrs(ids[:n]...)
	}
	return h.next.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	has := h.hasRequestID
	for _, a := range attrs {
		has = has || a.Key == "request_id"
	}
	return logHandler{next: h.next.WithAttrs(attrs), hasRequestID: has}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{next: h.next.WithGroup(name), hasRequestID: h.hasRequestID}
}

// hasAttr reports whether r has a top-level attribute named key.
func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
