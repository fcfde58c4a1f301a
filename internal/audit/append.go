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
// database clock (UTC, and never earlier than the previous event's).
//
// Append locks the chain head until tx ends: other appends wait, so call it
// late in the transaction and commit promptly. It needs READ COMMITTED (the
// default); under REPEATABLE READ or SERIALIZABLE a concurrent append makes
// it fail with a serialization error the caller must retry.
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

	var prev []byte
	err = tx.QueryRow(ctx, `
		UPDATE audit_chain_head
		SET seq = seq + 1, at = greatest(clock_timestamp(), at)
		RETURNING seq, at, hash`,
	).Scan(&entry.Seq, &entry.At, &prev)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append %s: lock chain head: %w", e.Action, err)
	}
	entry.At = entry.At.UTC()
	copy(entry.PrevHash[:], prev)
	if entry.Hash, err = entry.ComputeHash(); err != nil {
		return Entry{}, err
	}
	_, err = tx.Exec(ctx, `
		WITH entry AS (
			INSERT INTO audit_log (seq, at, actor_type, actor_id, actor_name, action, subject_type, subject_id,
			                       data, origin_ip, origin_request_id, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13)
		)
		UPDATE audit_chain_head SET hash = $13`,
		entry.Seq, entry.At, string(entry.Actor.Type), entry.Actor.ID, entry.Actor.Name, string(entry.Action),
		string(entry.Subject.Type), entry.Subject.ID, string(entry.Data), entry.Origin.IP, entry.Origin.RequestID,
		entry.PrevHash[:], entry.Hash[:],
	)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	return entry, nil
}
