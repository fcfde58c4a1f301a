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

	// The canonical line is built here except for the parts only known
	// under the chain lock (at, prev_hash, seq); the database fills those in
	// and hashes it, so the lock is held for one statement and the commit.
	parts, err := entry.canonicalParts()
	if err != nil {
		return Entry{}, err
	}

	var prev, hash []byte
	err = tx.QueryRow(ctx, appendSQL,
		parts[0], parts[1], parts[2], parts[3],
		string(entry.Actor.Type), entry.Actor.ID, entry.Actor.Name, string(entry.Action),
		string(entry.Subject.Type), entry.Subject.ID, string(entry.Data), entry.Origin.IP, entry.Origin.RequestID,
	).Scan(&entry.Seq, &entry.At, &prev, &hash)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	entry.At = entry.At.UTC()
	copy(entry.PrevHash[:], prev)
	copy(entry.Hash[:], hash)
	// The database and Go must agree on the canonical line, or the chain
	// could not be verified: fail the transaction rather than write it.
	if want, err := entry.ComputeHash(); err != nil || want != entry.Hash {
		return Entry{}, fmt.Errorf("audit: append %s: the database hashed event %d differently (bug)", e.Action, entry.Seq)
	}
	return entry, nil
}

// appendSQL appends one event in one statement. The sub-select locks the
// chain head (FOR UPDATE: concurrent appends wait here, then see the head
// their predecessor committed), takes the next seq, a time no earlier than
// the previous event's, and the previous hash; the INSERT hashes the
// canonical line $1 at $2 prev_hash $3 seq $4; the UPDATE moves the head.
const appendSQL = `
WITH entry AS (
	INSERT INTO audit_log (seq, at, actor_type, actor_id, actor_name, action, subject_type, subject_id,
	                       data, origin_ip, origin_request_id, prev_hash, hash)
	SELECT n.seq, n.at, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, n.prev,
	       sha256(convert_to($1 || to_char(n.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || $2
	                         || encode(n.prev, 'hex') || $3 || n.seq::text || $4, 'UTF8'))
	FROM (SELECT h.seq + 1 AS seq, greatest(clock_timestamp(), h.at) AS at, h.hash AS prev
	      FROM audit_chain_head h FOR UPDATE) n
	RETURNING seq, at, prev_hash, hash
)
UPDATE audit_chain_head h SET seq = entry.seq, at = entry.at, hash = entry.hash
FROM entry
RETURNING entry.seq, entry.at, entry.prev_hash, entry.hash`
