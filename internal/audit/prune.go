package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pruned describes one pruning: the events removed and the anchor left.
type Pruned struct {
	// Cutoff is the time before which events were removed.
	Cutoff time.Time `json:"cutoff"`
	// FirstSeq to LastSeq were removed, Count events in all.
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
	Count    int64 `json:"count"`
	// AnchorHash is the hash of event LastSeq, which the next event's
	// prev_hash still names; Verify starts from it.
	AnchorHash Hash      `json:"anchor_hash"`
	AnchorAt   time.Time `json:"anchor_at"`
}

// CountBefore returns how many events are older than cutoff: what Prune
// would remove.
func CountBefore(ctx context.Context, q Querier, cutoff time.Time) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE at < $1", cutoff).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit: count events before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	return n, nil
}

// Prune removes the events older than cutoff inside tx, records the last
// one's hash as the new anchor, and appends an audit.pruned event saying what
// went. Nothing goes silently: with nothing older than cutoff it does nothing
// and returns a zero Pruned. Verify the chain first: pruning makes the removed
// events unrecoverable.
//
// The deletion runs in the SQL function audit_prune, the one path past the
// table's no-delete trigger (docs/audit.md).
func Prune(ctx context.Context, tx pgx.Tx, cutoff time.Time, actor Actor) (Pruned, error) {
	p := Pruned{Cutoff: cutoff.UTC()}
	// Events committed before the pruning are chained first: pruning cuts
	// the chain, and an old unchained event would otherwise survive it.
	if _, err := chainPending(ctx, tx); err != nil {
		return Pruned{}, fmt.Errorf("audit: prune before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	var hash []byte
	err := tx.QueryRow(ctx, "SELECT first_seq, last_seq, anchor_hash, anchor_at, pruned FROM audit_prune($1)", cutoff).
		Scan(&p.FirstSeq, &p.LastSeq, &hash, &p.AnchorAt, &p.Count)
	if errors.Is(err, pgx.ErrNoRows) {
		return Pruned{}, nil
	}
	if err != nil {
		return Pruned{}, fmt.Errorf("audit: prune before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	copy(p.AnchorHash[:], hash)
	p.AnchorAt = p.AnchorAt.UTC()
	if _, err := appendChained(ctx, tx, Event{Actor: actor, Action: AuditPruned, Subject: TheLog, Data: p}); err != nil {
		return Pruned{}, err
	}
	return p, nil
}

// RetentionCutoff is the time before which events may go when they are kept
// for years: now minus that many calendar years. Zero years means keep
// forever, and the cutoff is the zero time.
func RetentionCutoff(now time.Time, years int) time.Time {
	if years <= 0 {
		return time.Time{}
	}
	return now.UTC().AddDate(-years, 0, 0)
}
