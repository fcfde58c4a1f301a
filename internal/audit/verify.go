package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Beginner starts transactions: a pool or a connection.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// Result is the outcome of walking the chain.
type Result struct {
	OK bool `json:"ok"`
	// Events is how many events were checked.
	Events int64 `json:"events"`
	// FirstSeq is where the walk started: 1, or just after the anchor left
	// by pruning.
	FirstSeq int64 `json:"first_seq"`
	// HeadSeq and HeadHash are the end of the chain.
	HeadSeq  int64 `json:"head_seq"`
	HeadHash Hash  `json:"head_hash"`
	// BrokenSeq is the first position that fails, and Problem says how; both
	// are empty when OK.
	BrokenSeq int64  `json:"broken_seq,omitempty"`
	Problem   string `json:"problem,omitempty"`
	// Pending is how many events were committed but not chained yet when
	// the walk started (committed after Verify chained what it found): the
	// next verification covers them.
	Pending int64 `json:"pending,omitempty"`
}

// String is the one-line report: "ok, N events, head hash H" or where and
// how the chain breaks.
func (r Result) String() string {
	if r.OK && r.Pending > 0 {
		return fmt.Sprintf("ok, %d events, head hash %s; %d more await chaining", r.Events, r.HeadHash, r.Pending)
	}
	if r.OK {
		return fmt.Sprintf("ok, %d events, head hash %s", r.Events, r.HeadHash)
	}
	return fmt.Sprintf("BROKEN at seq %d: %s (%d events checked before it)", r.BrokenSeq, r.Problem, r.Events)
}

// Verify walks the whole chain in seq order inside one read-only snapshot,
// recomputing every hash, and reports the first broken link: a missing,
// edited, inserted or reordered event, a time that goes backwards, or a head
// that does not match the last event (a truncated tail). It streams the rows,
// so memory stays flat however long the log is. An error means the walk
// could not be done; a broken chain is a Result with OK false.
//
// It first chains every event committed before it started (ChainAll), so
// the walk covers them whether or not the worker's chainer runs; events
// committed after that are counted in Result.Pending.
func Verify(ctx context.Context, db Beginner) (Result, error) {
	if _, err := ChainAll(ctx, db); err != nil {
		return Result{}, fmt.Errorf("audit: verify: %w", err)
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Result{}, fmt.Errorf("audit: verify: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	var r Result
	var headHash, anchorHash []byte
	var anchorSeq int64
	err = tx.QueryRow(ctx, `
		SELECT h.seq, h.hash, coalesce(a.seq, 0), coalesce(a.hash, $1),
		       (SELECT count(*) FROM audit_log WHERE seq >= `+pendingBaseSQL+`)
		FROM audit_chain_head h
		LEFT JOIN LATERAL (SELECT seq, hash FROM audit_anchor ORDER BY seq DESC LIMIT 1) a ON true`,
		Genesis[:],
	).Scan(&r.HeadSeq, &headHash, &anchorSeq, &anchorHash, &r.Pending)
	if err != nil {
		return Result{}, fmt.Errorf("audit: verify: read head: %w", err)
	}
	copy(r.HeadHash[:], headHash)
	r.FirstSeq = anchorSeq + 1

	rows, err := tx.Query(ctx, "SELECT "+entryColumns+" FROM audit_log WHERE seq < "+pendingBaseSQL+" ORDER BY seq")
	if err != nil {
		return Result{}, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	w := walker{want: anchorSeq + 1}
	copy(w.prev[:], anchorHash)
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return Result{}, fmt.Errorf("audit: verify: %w", err)
		}
		if seq, problem := w.step(e); problem != "" {
			r.BrokenSeq, r.Problem, r.Events = seq, problem, w.checked
			return r, nil
		}
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("audit: verify: %w", err)
	}
	r.Events = w.checked
	last := w.want - 1
	switch {
	case last < r.HeadSeq:
		r.BrokenSeq = last + 1
		r.Problem = fmt.Sprintf("events %d to %d are missing: the chain head says the last event is %d", last+1, r.HeadSeq, r.HeadSeq)
	case last > r.HeadSeq:
		r.BrokenSeq = r.HeadSeq + 1
		r.Problem = fmt.Sprintf("events after the chain head (%d) exist: they were not appended through the chain", r.HeadSeq)
	case w.prev != r.HeadHash:
		r.BrokenSeq = r.HeadSeq
		r.Problem = "the chain head's hash does not match the last event"
	default:
		r.OK = true
	}
	return r, nil
}

// walker checks one event after another.
type walker struct {
	want    int64 // the next seq expected
	prev    Hash  // the hash the next event must point back to
	prevAt  time.Time
	checked int64
	line    bytes.Buffer // reused for each canonical line
}

// step checks e and returns the broken seq and the problem, if any.
func (w *walker) step(e Entry) (int64, string) {
	switch {
	case e.Seq > w.want:
		return w.want, fmt.Sprintf("event %d is missing (the next one present is %d)", w.want, e.Seq)
	case e.Seq < w.want:
		return e.Seq, fmt.Sprintf("event %d is at or before the pruning anchor (%d)", e.Seq, w.want-1)
	case e.PrevHash != w.prev:
		return e.Seq, fmt.Sprintf("its prev_hash %s is not the hash of the event before it (%s): an event was removed, inserted or rewritten", e.PrevHash, w.prev)
	case e.At.Before(w.prevAt):
		return e.Seq, "its time is earlier than the event before it"
	}
	got, err := e.hashWith(&w.line)
	if err != nil {
		return e.Seq, fmt.Sprintf("its data cannot be read: %v", err)
	}
	if got != e.Hash {
		return e.Seq, fmt.Sprintf("its contents do not match its hash (stored %s, computed %s): the event was edited", e.Hash, got)
	}
	w.want, w.prev, w.prevAt = e.Seq+1, e.Hash, e.At
	w.checked++
	return 0, ""
}

// RecordVerification appends an audit.verified event with the result, in a
// transaction of its own.
func RecordVerification(ctx context.Context, db Beginner, actor Actor, origin Origin, r Result) (Entry, error) {
	var entry Entry
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		entry, err = Append(ctx, tx, Event{Actor: actor, Action: AuditVerified, Subject: TheLog, Origin: origin, Data: r})
		return err
	})
	return entry, err
}

// Verification is a recorded verification: when, by whom, and its result.
type Verification struct {
	Seq    int64
	At     time.Time
	Actor  Actor
	Result Result
}

// LatestVerification returns the most recent audit.verified event, or
// ErrNotFound when the log was never verified.
func LatestVerification(ctx context.Context, q Querier) (Verification, error) {
	page, err := List(ctx, q, Filter{Actions: []Action{AuditVerified}}, PageRequest{Limit: 1})
	if err != nil {
		return Verification{}, err
	}
	if len(page.Entries) == 0 {
		return Verification{}, fmt.Errorf("%w: no verification yet", ErrNotFound)
	}
	e := page.Entries[0]
	v := Verification{Seq: e.Seq, At: e.At, Actor: e.Actor}
	if err := json.NewDecoder(bytes.NewReader(e.Data)).Decode(&v.Result); err != nil {
		return Verification{}, fmt.Errorf("audit: read verification %d: %w", e.Seq, err)
	}
	return v, nil
}
