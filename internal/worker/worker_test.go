package worker

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// logBuffer is a log sink read while the worker writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type bundle struct {
	pool   *pgxpool.Pool
	logs   *logBuffer
	logger *slog.Logger
}

func setup(t *testing.T) bundle {
	t.Helper()
	logs := &logBuffer{}
	return bundle{pool: testdb.New(t), logs: logs, logger: slog.New(slog.NewJSONHandler(logs, nil))}
}

func appendEvents(t *testing.T, pool *pgxpool.Pool, n int) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	for i := range n {
		err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
			e, err := audit.Append(context.Background(), tx, audit.Event{
				Actor: audit.User("1", "Alice"), Action: audit.RequestCreated,
				Subject: audit.Subject{Type: audit.SubjectRequest, ID: "1"}, Data: map[string]int{"i": i},
			})
			out = append(out, e)
			return err
		})
		require.NoError(t, err)
	}
	return out
}

func breakChain(t *testing.T, pool *pgxpool.Pool, seq int64) {
	t.Helper()
	ctx := context.Background()
	_, err := audit.ChainAll(ctx, pool) // the event to edit must have its seq
	require.NoError(t, err)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, sql := range []string{
			"ALTER TABLE audit_log DISABLE TRIGGER USER",
			"UPDATE audit_log SET data = '{\"i\":99}' WHERE seq = $1",
			"ALTER TABLE audit_log ENABLE TRIGGER USER",
		} {
			args := []any{}
			if sql[0] == 'U' {
				args = append(args, seq)
			}
			if _, err := tx.Exec(ctx, sql, args...); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
}

func TestWorkerVerifiesTheAuditLogOnStart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	appendEvents(t, b.pool, 3)
	w, err := New(b.pool, b.logger, Options{
		AuditVerifyInterval: time.Hour,
		FetchCooldown:       10 * time.Millisecond,
		FetchPollInterval:   50 * time.Millisecond,
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, w.Start(ctx))

	var v audit.Verification
	require.Eventually(t, func() bool {
		v, err = audit.LatestVerification(ctx, b.pool)
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "the periodic verification never ran")
	require.True(t, v.Result.OK)
	require.Equal(t, int64(3), v.Result.Events)
	require.Equal(t, audit.System("worker"), v.Actor)

	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, w.Stop(stopCtx))
	require.Contains(t, b.logs.String(), "audit log verified")
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := New(b.pool, b.logger, Options{})
	require.ErrorContains(t, err, "AuditVerifyInterval")
	_, err = New(b.pool, b.logger, Options{
		AuditVerifyInterval: time.Hour, FetchCooldown: time.Second, FetchPollInterval: 100 * time.Millisecond,
	})
	require.ErrorContains(t, err, "FetchPollInterval cannot be shorter than FetchCooldown")
}

func TestVerifyJobRaisesTheAlarmOnABrokenChain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	appendEvents(t, b.pool, 5)
	breakChain(t, b.pool, 2)

	w := &auditVerifyWorker{pool: b.pool, logger: b.logger, timeout: time.Hour}
	require.NoError(t, w.Work(ctx, nil))

	require.Contains(t, b.logs.String(), `"level":"ERROR"`)
	require.Contains(t, b.logs.String(), `"broken_seq":2`)
	v, err := audit.LatestVerification(ctx, b.pool)
	require.NoError(t, err)
	require.False(t, v.Result.OK)
	require.Equal(t, int64(2), v.Result.BrokenSeq)
}

func TestPruneJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("prunes what is older than the retention, audited", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		entries := appendEvents(t, b.pool, 4)
		// Three years on, a two-year retention reaches everything so far.
		w := &auditPruneWorker{pool: b.pool, logger: b.logger, years: 2,
			now: func() time.Time { return entries[3].At.AddDate(2, 0, 0).Add(time.Microsecond) }}
		require.NoError(t, w.Work(ctx, nil))

		r, err := audit.Verify(ctx, b.pool)
		require.NoError(t, err)
		require.True(t, r.OK, r.String())
		require.Equal(t, int64(5), r.FirstSeq)
		require.Equal(t, int64(1), r.Events, "only the audit.pruned event remains")
		e, err := audit.Get(ctx, b.pool, 5)
		require.NoError(t, err)
		require.Equal(t, audit.AuditPruned, e.Action)
		require.Contains(t, b.logs.String(), `"pruned":4`)

		// Nothing more is due: the job does nothing and says nothing.
		require.NoError(t, w.Work(ctx, nil))
		head, err := audit.HeadGet(ctx, b.pool)
		require.NoError(t, err)
		require.Equal(t, int64(5), head.Seq)
	})

	t.Run("keeps a broken chain whole", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		entries := appendEvents(t, b.pool, 4)
		breakChain(t, b.pool, 3)
		w := &auditPruneWorker{pool: b.pool, logger: b.logger, years: 1,
			now: func() time.Time { return entries[3].At.AddDate(1, 0, 1) }}
		require.NoError(t, w.Work(ctx, nil))
		require.Contains(t, b.logs.String(), "audit prune skipped")
		head, err := audit.HeadGet(ctx, b.pool)
		require.NoError(t, err)
		require.Equal(t, int64(4), head.Events)
	})

	t.Run("keeps everything with no retention", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appendEvents(t, b.pool, 2)
		w := &auditPruneWorker{pool: b.pool, logger: b.logger, years: 0, now: time.Now}
		require.NoError(t, w.Work(ctx, nil))
		head, err := audit.HeadGet(ctx, b.pool)
		require.NoError(t, err)
		require.Equal(t, int64(2), head.Events)
	})
}
