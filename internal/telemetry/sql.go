package telemetry

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TraceQueries adds a span per SQL statement to the connections of cc,
// beside any tracer cc already has (pgx's multitracer runs both).
func TraceQueries(cc *pgx.ConnConfig) {
	if cc.Tracer == nil {
		cc.Tracer = QueryTracer{}
		return
	}
	cc.Tracer = multitracer.New(cc.Tracer, QueryTracer{})
}

// QueryTracer is a pgx tracer that records one client span per SQL
// statement (and one per batch), named by the statement's first keyword and
// holding its text, never its arguments. A statement runs in a span only
// within traced work (an HTTP request, a job): River's polling and other
// background statements with no span in their context are not traced, so
// they do not flood the trace store with one-span traces.
type QueryTracer struct{}

// maxQueryText bounds the SQL text kept on a span.
const maxQueryText = 4096

func (QueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return startStatement(ctx, data.SQL)
}

func (QueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	endStatement(ctx, data.CommandTag, data.Err)
}

func (QueryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	n := 0
	if data.Batch != nil {
		n = data.Batch.Len()
	}
	ctx, _ = Tracer().Start(ctx, "batch", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.Int("db.operation.batch.size", n)))
	return context.WithValue(ctx, statementKey{}, true)
}

func (QueryTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if traced, _ := ctx.Value(statementKey{}).(bool); traced {
		trace.SpanFromContext(ctx).AddEvent("statement", trace.WithAttributes(attribute.String("db.query.text", queryText(data.SQL))))
	}
}

func (QueryTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	endStatement(ctx, pgconn.CommandTag{}, data.Err)
}

// statementKey marks a context whose span is a statement's, so that its end
// ends that span and nothing else.
type statementKey struct{}

func startStatement(ctx context.Context, sql string) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	op := operationOf(sql)
	ctx, _ = Tracer().Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("db.system.name", "postgresql"),
		attribute.String("db.operation.name", op),
		attribute.String("db.query.text", queryText(sql)),
	))
	return context.WithValue(ctx, statementKey{}, true)
}

func endStatement(ctx context.Context, tag pgconn.CommandTag, err error) {
	if traced, _ := ctx.Value(statementKey{}).(bool); !traced {
		return
	}
	span := trace.SpanFromContext(ctx)
	defer span.End()
	if err == nil {
		span.SetAttributes(attribute.Int64("db.response.rows_affected", tag.RowsAffected()))
		return
	}
	// The server's code and message, never its detail: a detail may
	// quote the values of a row.
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		span.SetAttributes(attribute.String("db.response.status_code", pgErr.Code))
		span.SetStatus(codes.Error, pgErr.Code+": "+pgErr.Message)
		return
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return // an answer, not a failure
	}
	span.SetStatus(codes.Error, err.Error())
}

// operationOf is the statement's first keyword (SELECT, INSERT, WITH, …).
func operationOf(sql string) string {
	s := strings.TrimLeftFunc(sql, unicode.IsSpace)
	for strings.HasPrefix(s, "--") {
		_, rest, _ := strings.Cut(s, "\n")
		s = strings.TrimLeftFunc(rest, unicode.IsSpace)
	}
	end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		end = len(s)
	}
	if end == 0 {
		return "SQL"
	}
	return strings.ToUpper(s[:end])
}

func queryText(sql string) string {
	if len(sql) <= maxQueryText {
		return sql
	}
	return strings.ToValidUTF8(sql[:maxQueryText], "") + "…"
}
