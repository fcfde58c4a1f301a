package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// appendIn appends events in one transaction and returns them unchained.
func appendIn(t testing.TB, pool *pgxpool.Pool, events ...audit.Event) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		for _, e := range events {
			entry, err := audit.Append(context.Background(), tx, e)
			if err != nil {
				return err
			}
			out = append(out, entry)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// countRows counts audit_log rows, chained and not.
func countRows(t testing.TB, pool *pgxpool.Pool) (chained, pending int64) {
	t.Helper()
	require.NoError(t, pool.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE seq < $1), count(*) FILTER (WHERE seq >= $1) FROM audit_log`,
		audit.PendingBase).Scan(&chained, &pending))
	return chained, pending
}

func TestAnAppendedEventIsListedAtOnceAndChainedLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	first := appendOne(t, pool, event())
	entries := appendIn(t, pool, event(func(e *audit.Event) { e.Action = audit.RequestApproved }))
	unchained := entries[0]

	require.True(t, unchained.Pending())
	require.Equal(t, audit.Hash{}, unchained.Hash)
	page, err := audit.List(ctx, pool, audit.Filter{}, audit.PageRequest{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 2)
	require.Equal(t, unchained.Seq, page.Entries[0].Seq, "the unchained event is the newest")
	require.True(t, page.Entries[0].Pending())
	head, err := audit.HeadGet(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, audit.Head{Seq: 1, Hash: first.Hash, Events: 2, Pending: 1}, head)

	n, err := audit.Chain(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = audit.Chain(ctx, pool)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is chained twice")

	// A link made before chaining (a drift's audit_seq, /audit/events/N)
	// still finds the event.
	got, err := audit.Get(ctx, pool, unchained.Seq)
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Seq)
	require.Equal(t, first.Hash, got.PrevHash)
	require.Equal(t, audit.RequestApproved, got.Action)
	require.False(t, got.At.Before(unchained.At))
	r := verify(t, pool)
	require.Equal(t, fmt.Sprintf("ok, 2 events, head hash %s", got.Hash), r.String())
}

func TestARolledBackTransactionLeavesNoEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	appendIn(t, pool, event())

	errAction := errors.New("the action failed")
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := audit.Append(ctx, tx, event(func(e *audit.Event) { e.Action = audit.RequestApproved })); err != nil {
			return err
		}
		return errAction
	})
	require.ErrorIs(t, err, errAction)
	chained, pending := countRows(t, pool)
	require.Equal(t, int64(0), chained)
	require.Equal(t, int64(1), pending, "only the committed event waits to be chained")

	appendIn(t, pool, event())
	_, err = audit.ChainAll(ctx, pool)
	require.NoError(t, err)
	page, err := audit.List(ctx, pool, audit.Filter{}, audit.PageRequest{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 2)
	for _, e := range page.Entries {
		require.Equal(t, audit.RequestCreated, e.Action, "the rolled-back event is nowhere")
	}
	r := verify(t, pool)
	require.True(t, r.OK, r.String())
	require.Equal(t, int64(2), r.Events, "seq has no gap where the rolled-back event was")
}

// killer ends its connection's backend right after audit_chain ran, before
// the chainer commits: a chainer process dying in the middle of a batch.
type killer struct {
	armed atomic.Bool
	admin *pgxpool.Pool
	kills atomic.Int32
}

func (k *killer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, "audit_chain(") {
		return context.WithValue(ctx, chainKey{}, true)
	}
	return ctx
}

func (k *killer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	if data.Err == nil && ctx.Value(chainKey{}) == true && k.armed.Load() {
		k.kills.Add(1)
		_, _ = k.admin.Exec(context.Background(), "SELECT pg_terminate_backend($1)", conn.PgConn().PID())
	}
}

type chainKey struct{}

func TestAChainerKilledMidBatchLosesAndDuplicatesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.NewURL(t)
	admin, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(admin.Close)

	const txs, each = 300, 5 // 1,500 events: two batches
	for i := range txs {
		events := make([]audit.Event, each)
		for j := range events {
			events[j] = event(func(e *audit.Event) { e.Data = map[string]int{"tx": i, "i": j} })
		}
		appendIn(t, admin, events...)
	}

	// The dying chainer: its connection is killed after audit_chain has
	// written its batch and before the commit.
	k := &killer{admin: admin}
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.ConnConfig.Tracer = k
	dying, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(dying.Close)
	k.armed.Store(true)
	_, err = audit.Chain(ctx, dying)
	require.Error(t, err, "the chainer died")
	require.Equal(t, int32(1), k.kills.Load())
	chained, pending := countRows(t, admin)
	require.Zero(t, chained, "the killed batch left nothing chained")
	require.Equal(t, int64(txs*each), pending)

	// Restarted, with a second chainer running at the same time.
	var wg sync.WaitGroup
	totals := make([]int64, 2)
	for c := range totals {
		wg.Go(func() {
			n, err := audit.ChainAll(ctx, admin)
			require.NoError(t, err)
			totals[c] = n
		})
	}
	wg.Wait()
	require.Equal(t, int64(txs*each), totals[0]+totals[1], "every event chained exactly once")
	chained, pending = countRows(t, admin)
	require.Equal(t, int64(txs*each), chained)
	require.Zero(t, pending)

	r := verify(t, admin)
	require.True(t, r.OK, r.String())
	require.Equal(t, int64(txs*each), r.Events)
	// Each transaction's events are chained together and in their order:
	// here the transactions committed one after another, so the chain is
	// exactly commit order.
	rows, err := admin.Query(ctx, "SELECT (data->>'tx')::int, (data->>'i')::int FROM audit_log ORDER BY seq")
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var tx, i int
		require.NoError(t, rows.Scan(&tx, &i))
		require.Equal(t, [2]int{n / each, n % each}, [2]int{tx, i}, "event %d of the chain", n+1)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, txs*each, n)
}

// TestConcurrentTransactionsAreChainedOnceInTheirOrder: many transactions
// commit events at once while two chainers run; every event ends up chained
// exactly once, a transaction's events in the order it appended them, and
// the transactions of one appender (one after another, like the steps of
// one request) in the order they committed.
func TestConcurrentTransactionsAreChainedOnceInTheirOrder(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := pgxpool.ParseConfig(testdb.NewURL(t))
	require.NoError(t, err)
	cfg.MaxConns = 30
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	chainers := sync.WaitGroup{}
	for range 2 {
		chainers.Go(func() {
			for ctx.Err() == nil {
				if _, err := audit.Chain(ctx, pool); err != nil && ctx.Err() == nil {
					t.Errorf("chain: %v", err)
					return
				}
			}
		})
	}
	const appenders, txs, each = 20, 15, 3
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for x := range txs {
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					for i := range each {
						_, err := audit.Append(ctx, tx, event(func(e *audit.Event) {
							e.Actor = audit.User(fmt.Sprint(a), "appender")
							e.Data = map[string]int{"tx": x, "i": i}
						}))
						if err != nil {
							return err
						}
						// Give other transactions a chance to interleave.
						if _, err := tx.Exec(ctx, "SELECT pg_sleep(0.001)"); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	cancel()
	chainers.Wait()

	r := verify(t, pool)
	require.True(t, r.OK, r.String())
	require.Equal(t, int64(appenders*txs*each), r.Events)
	require.Zero(t, r.Pending)

	rows, err := pool.Query(context.Background(),
		"SELECT actor_id, (data->>'tx')::int, (data->>'i')::int, append_id FROM audit_log ORDER BY seq")
	require.NoError(t, err)
	next := map[string]int{} // per appender: the position (tx*each+i) expected next
	seen := map[int64]bool{}
	for rows.Next() {
		var actor string
		var tx, i int
		var appendID int64
		require.NoError(t, rows.Scan(&actor, &tx, &i, &appendID))
		require.False(t, seen[appendID], "event %d chained twice", appendID)
		seen[appendID] = true
		require.Equal(t, next[actor], tx*each+i, "appender %s: transaction %d event %d out of order", actor, tx, i)
		next[actor]++
	}
	require.NoError(t, rows.Err())
	require.Len(t, seen, appenders*txs*each)
}
