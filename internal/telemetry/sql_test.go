package telemetry_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/clusterdesk/clusterdesk/internal/telemetry"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// countingTracer stands for a tracer the pool already had.
type countingTracer struct{ starts atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.starts.Add(1)
	return ctx
}
func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A statement is a span within traced work, holding its text and never its
// arguments; outside any span it is not traced; a tracer the pool already
// had keeps running beside it.
func TestQueryTracer(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	otel.SetTracerProvider(provider)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	cfg, err := pgxpool.ParseConfig(testdb.NewURL(t))
	require.NoError(t, err)
	existing := &countingTracer{}
	cfg.ConnConfig.Tracer = existing
	telemetry.TraceQueries(cfg.ConnConfig)
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	defer pool.Close()

	var got string
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT $1::text", "untraced-argument").Scan(&got))
	require.Empty(t, recorder.Ended(), "no span without traced work")

	ctx, work := provider.Tracer("test").Start(t.Context(), "work")
	require.NoError(t, pool.QueryRow(ctx, "  -- a comment first\n select $1::text", "secret-argument").Scan(&got))
	_, err = pool.Exec(ctx, "INSERT INTO no_such_table VALUES ($1)", "secret-argument")
	require.Error(t, err)
	work.End()

	spans := recorder.Ended()
	require.Len(t, spans, 3)
	sel, ins := spans[0], spans[1]
	require.Equal(t, "SELECT", sel.Name())
	require.Equal(t, work.SpanContext().SpanID(), sel.Parent().SpanID())
	attrs := map[string]string{}
	for _, a := range sel.Attributes() {
		attrs[string(a.Key)] = a.Value.String()
	}
	require.Equal(t, "postgresql", attrs["db.system.name"])
	require.Equal(t, "  -- a comment first\n select $1::text", attrs["db.query.text"])
	require.Equal(t, "1", attrs["db.response.rows_affected"])
	require.Equal(t, "INSERT", ins.Name())
	require.Equal(t, codes.Error, ins.Status().Code)
	require.Contains(t, ins.Status().Description, "42P01")
	for _, s := range spans {
		for _, a := range s.Attributes() {
			require.NotContains(t, a.Value.String(), "secret-argument")
		}
		require.NotContains(t, s.Status().Description, "secret-argument")
	}
	require.GreaterOrEqual(t, existing.starts.Load(), int64(3), "the pool's own tracer still runs")
}
