package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/clusterdesk/clusterdesk/internal/telemetry"
)

// traceContextKey is the job metadata key holding the W3C trace context
// (traceparent, tracestate) of the work that inserted the job.
const traceContextKey = "trace_context"

// tracing carries traces across the queue: a job inserted within a traced
// request or job keeps that trace's context in its metadata, and each run
// of a job is a span named "job KIND", a child of that context, so one
// trace shows an approval, its submission job and the Cloud Manager call it
// made (and the tracking job the submission inserted). Every client, the
// worker's and the insert-only ones, installs it (middleware).
type tracing struct {
	river.MiddlewareDefaults
}

// middleware is what every River client of the portal runs.
func middleware() []rivertype.Middleware {
	return []rivertype.Middleware{&tracing{}}
}

func (*tracing) InsertMany(ctx context.Context, many []*rivertype.JobInsertParams, doInner func(context.Context) ([]*rivertype.JobInsertResult, error)) ([]*rivertype.JobInsertResult, error) {
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if len(carrier) > 0 {
		for _, p := range many {
			meta, err := withMetadata(p.Metadata, traceContextKey, carrier)
			if err != nil {
				return nil, err
			}
			p.Metadata = meta
		}
	}
	return doInner(ctx)
}

func (*tracing) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	var meta struct {
		TraceContext propagation.MapCarrier `json:"trace_context"`
	}
	// Metadata the portal did not write, or none: a job of its own trace.
	_ = json.Unmarshal(job.Metadata, &meta)
	if meta.TraceContext != nil {
		ctx = otel.GetTextMapPropagator().Extract(ctx, meta.TraceContext)
	}
	ctx, span := telemetry.Tracer().Start(ctx, "job "+job.Kind, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attribute.String("messaging.system", "river"),
		attribute.String("messaging.operation.name", "work"),
		attribute.String("messaging.destination.name", job.Queue),
		attribute.String("river.job.kind", job.Kind),
		attribute.Int64("river.job.id", job.ID),
		attribute.Int("river.job.attempt", job.Attempt),
	))
	defer span.End()
	err := doInner(ctx)
	if snooze, ok := errors.AsType[*river.JobSnoozeError](err); ok {
		span.SetAttributes(attribute.String("river.job.snooze", snooze.Duration.String()))
		return err
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// withMetadata sets key to value in a job's JSON metadata object.
func withMetadata(raw []byte, key string, value any) ([]byte, error) {
	meta := map[string]json.RawMessage{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, fmt.Errorf("worker: job metadata: %w", err)
		}
	}
	v, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("worker: job metadata: %w", err)
	}
	meta[key] = v
	out, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("worker: job metadata: %w", err)
	}
	return out, nil
}
