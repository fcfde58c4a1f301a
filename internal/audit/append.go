package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Event is something that happened, to be appended to the log.
type Event struct {
	Actor   Actor
	Action  Action
	Subject Subject
	Origin  Origin
	// Data holds the details: anything encoding/json can encode (a struct,
	// a map, json.RawMessage). It is redacted before it is stored.
	Data any
}

// ErrInvalidEvent means an event lacks an actor, or names an unknown action
// or subject type.
var ErrInvalidEvent = errors.New("audit: invalid event")

func (e Event) validate() error {
	switch {
	case !e.Action.Valid():
		return fmt.Errorf("%w: unknown action %q", ErrInvalidEvent, e.Action)
	case e.Actor.Type != ActorUser && e.Actor.Type != ActorSystem:
		return fmt.Errorf("%w: actor type %q; want user or system", ErrInvalidEvent, e.Actor.Type)
	case e.Actor.ID == "":
		return fmt.Errorf("%w: %s has no actor id", ErrInvalidEvent, e.Action)
	case !e.Subject.Type.Valid():
		return fmt.Errorf("%w: unknown subject type %q", ErrInvalidEvent, e.Subject.Type)
	}
	return nil
}

// Append adds an event to the log inside tx, the transaction of the action
// it records, so both commit or roll back together. The time comes from the
// database clock (UTC).
//
// The event is stored unchained: it takes no lock, so appends in concurrent
// transactions do not wait for each other. Its place in the chain (seq,
// prev_hash, hash) is given after it commits, in commit order, by the
// chainer (Chain, run by the worker every ChainInterval); until then the
// returned Entry has a provisional Seq (Pending reports true) that Get and
// the event's page keep resolving after chaining, and zero hashes. The
// chained time is the append's, or the previous event's when that is later:
// time never goes backwards along the chain.
func Append(ctx context.Context, tx pgx.Tx, e Event) (Entry, error) {
	if err := e.validate(); err != nil {
		return Entry{}, err
	}
	data, err := normalizeData(e.Data)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append %s: data: %w", e.Action, err)
	}
	var buf bytes.Buffer
	writeValue(&buf, data)
	entry := Entry{
		Actor:   Actor{Type: e.Actor.Type, ID: cleanText(e.Actor.ID), Name: cleanText(e.Actor.Name)},
		Action:  e.Action,
		Subject: Subject{Type: e.Subject.Type, ID: cleanText(e.Subject.ID)},
		Origin:  Origin{IP: cleanText(e.Origin.IP), RequestID: cleanText(e.Origin.RequestID)},
		Data:    buf.Bytes(),
	}
	// The event must hash once chained: check now, while the caller can
	// still roll back, rather than leave the chainer an event it cannot
	// chain.
	if _, err := entry.ComputeHash(); err != nil {
		return Entry{}, fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	err = tx.QueryRow(ctx, appendSQL,
		string(entry.Actor.Type), entry.Actor.ID, entry.Actor.Name, string(entry.Action),
		string(entry.Subject.Type), entry.Subject.ID, string(entry.Data), entry.Origin.IP, entry.Origin.RequestID,
	).Scan(&entry.Seq, &entry.At)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	entry.At = entry.At.UTC()
	return entry, nil
}

// appendSQL inserts one unchained event: a provisional seq above every
// chained one (PendingBase plus its append_id, from a sequence), no hashes.
const appendSQL = `
INSERT INTO audit_log (seq, append_id, at, actor_type, actor_id, actor_name, action, subject_type, subject_id,
                       data, origin_ip, origin_request_id)
SELECT audit_pending_base() + n.id, n.id, clock_timestamp(), $1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9
FROM (SELECT nextval('audit_append_id') AS id) n
RETURNING seq, at`
