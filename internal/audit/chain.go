package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// PendingBase is where provisional seqs start: an event appended but not
// chained yet has seq PendingBase + its append number, above every chained
// seq (SQL: audit_pending_base()).
const PendingBase int64 = 1 << 62

// Pending reports whether the event is not chained yet: its Seq is
// provisional and its hashes are zero.
func (e Entry) Pending() bool { return e.Seq >= PendingBase }

// ChainBatch is how many events one chaining transaction takes at most.
const ChainBatch = 1000

// ChainInterval is how often the worker looks for unchained events: an
// event is chained this long after its commit, plus the chaining itself.
const ChainInterval = 200 * time.Millisecond

// Chain gives up to ChainBatch committed unchained events their place in the
// chain, in one transaction, and returns how many it chained. The order is
// the order in which they were appended among those committed (their append
// number), so events of one transaction keep their order, and an event
// appended after another committed comes after it. A crash or an error
// rolls the whole batch back; nothing is chained twice or skipped.
//
// Only one chainer works at a time: when another holds the chain head
// (another process's chainer, or an export or a pruning chaining what it
// needs), Chain returns 0 at once rather than wait.
func Chain(ctx context.Context, db Beginner) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		n, err = chainBatch(ctx, tx, false)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit: chain: %w", err)
	}
	return n, nil
}

// ChainDB is what ChainEvery needs of the database: a pool.
type ChainDB interface {
	Beginner
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ChainEvery chains committed events until ctx ends: all that wait, then
// again every interval, as each worker process does (internal/worker). It
// polls rather than listens: a NOTIFY in every appending transaction would
// serialise their commits on PostgreSQL's notification queue, the cost
// unchained appends take out of the request path; a poll is one index
// probe. An error goes to onErr (when not nil) and the events wait,
// committed and unchained, for the next round; Verify counts them pending.
func ChainEvery(ctx context.Context, db ChainDB, interval time.Duration, onErr func(error)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := chainWaiting(ctx, db); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// chainWaiting chains batches until none waits or another chainer holds
// the head.
func chainWaiting(ctx context.Context, db ChainDB) error {
	var waiting bool
	err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM audit_log WHERE seq >= $1)", PendingBase).Scan(&waiting)
	for err == nil && waiting {
		var n int
		n, err = Chain(ctx, db)
		waiting = n == ChainBatch
	}
	return err
}

// ChainAll chains every event committed before it started, waiting for
// another chainer if one is at work, and returns how many it chained.
func ChainAll(ctx context.Context, db Beginner) (int64, error) {
	var total int64
	for {
		var n int
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			var err error
			n, err = chainBatch(ctx, tx, true)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("audit: chain: %w", err)
		}
		total += int64(n)
		if n < ChainBatch {
			return total, nil
		}
	}
}

// chainPending chains, inside tx, every unchained event tx can see (its
// own included), waiting for the chain head; tx keeps the head locked until
// it ends. It returns the chain head's seq afterwards.
func chainPending(ctx context.Context, tx pgx.Tx) (int64, error) {
	for {
		n, err := chainBatch(ctx, tx, true)
		if err != nil {
			return 0, err
		}
		if n < ChainBatch {
			break
		}
	}
	var seq int64
	if err := tx.QueryRow(ctx, "SELECT seq FROM audit_chain_head").Scan(&seq); err != nil {
		return 0, fmt.Errorf("read head: %w", err)
	}
	return seq, nil
}

// appendChained appends e and chains it, with everything committed before
// it, inside tx. For the log's own events that must know their seq at once
// (an export stops at the event before its own); it holds the chain head
// until tx ends, as every append once did.
func appendChained(ctx context.Context, tx pgx.Tx, e Event) (Entry, error) {
	entry, err := Append(ctx, tx, e)
	if err != nil {
		return Entry{}, err
	}
	if _, err := chainPending(ctx, tx); err != nil {
		return Entry{}, fmt.Errorf("audit: append %s: chain: %w", e.Action, err)
	}
	return Get(ctx, tx, entry.Seq)
}

// chainBatch chains up to ChainBatch unchained events visible to tx. With
// wait false it gives up (0, nil) when another transaction holds the head.
func chainBatch(ctx context.Context, tx pgx.Tx, wait bool) (int, error) {
	lock := "SELECT seq, at, hash FROM audit_chain_head FOR UPDATE"
	if !wait {
		lock += " SKIP LOCKED"
	}
	var headSeq int64
	var headAt pgtype.Timestamptz
	var headHash []byte
	err := tx.QueryRow(ctx, lock).Scan(&headSeq, &headAt, &headHash)
	if errors.Is(err, pgx.ErrNoRows) && !wait {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("lock head: %w", err)
	}
	// Read after the lock: under READ COMMITTED this statement sees every
	// event committed until now, the previous chainer's work included.
	rows, err := tx.Query(ctx, "SELECT "+entryColumns+" FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
		PendingBase, ChainBatch)
	if err != nil {
		return 0, fmt.Errorf("read unchained events: %w", err)
	}
	pending, err := pgx.CollectRows(rows, scanEntry)
	if err != nil {
		return 0, fmt.Errorf("read unchained events: %w", err)
	}
	if len(pending) == 0 {
		return 0, nil
	}
	var prevAt time.Time // -infinity for an empty chain: no bound
	if headAt.Valid && headAt.InfinityModifier == pgtype.Finite {
		prevAt = headAt.Time
	}
	var prev Hash
	copy(prev[:], headHash)
	ids := make([]int64, len(pending))
	ats := make([]time.Time, len(pending))
	hashes := make([][]byte, len(pending))
	var line bytes.Buffer
	for i, e := range pending {
		ids[i] = e.Seq
		e.Seq = headSeq + int64(i) + 1
		if e.At.Before(prevAt) {
			e.At = prevAt
		}
		e.PrevHash = prev
		h, err := e.hashWith(&line)
		if err != nil {
			return 0, err
		}
		ats[i], hashes[i] = e.At, h[:]
		prev, prevAt = h, e.At
	}
	if _, err := tx.Exec(ctx, "SELECT audit_chain($1, $2, $3)", ids, ats, hashes); err != nil {
		return 0, fmt.Errorf("chain %d events after seq %d: %w", len(pending), headSeq, err)
	}
	return len(pending), nil
}

// HeadChained chains every event committed so far, then reads the chain
// head: the head to publish (portal audit head), covering everything
// committed before the call.
func HeadChained(ctx context.Context, db interface {
	Beginner
	Querier
}) (Head, error) {
	if _, err := ChainAll(ctx, db); err != nil {
		return Head{}, err
	}
	return HeadGet(ctx, db)
}
