package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotFound is returned for a delivery or endpoint that does not exist.
var ErrNotFound = errors.New("not found")

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Channel is how a delivery is sent.
type Channel string

// The channels.
const (
	ChannelEmail   Channel = "email"
	ChannelChat    Channel = "chat"
	ChannelWebhook Channel = "webhook"
)

// State is where a delivery stands.
type State string

// The delivery states.
const (
	StatePending State = "pending" // to be sent (or being retried)
	StateDigest  State = "digest"  // held for its person's digest
	StateSent    State = "sent"
	StateFailed  State = "failed" // every attempt failed; an admin may resend it
)

// Delivery is one row of the delivery log.
type Delivery struct {
	ID             int64
	IdempotencyKey string
	EventID        int64
	Event          Kind
	RequestID      int64
	Channel        Channel
	UserID         int64 // 0 for an endpoint
	EndpointID     int64 // 0 for a person, or an endpoint from the settings
	Target         string
	Message        Message
	State          State
	Attempts       int
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	SentAt         *time.Time
}

const deliverySelect = `
	SELECT id, idempotency_key, event_id, event, request_id, channel, coalesce(user_id, 0), coalesce(endpoint_id, 0),
	       target, message, state, attempts, last_error, created_at, updated_at, sent_at
	FROM notify_deliveries`

func scanDelivery(row pgx.CollectableRow) (Delivery, error) {
	var (
		d                     Delivery
		raw                   []byte
		event, channel, state string
	)
	err := row.Scan(&d.ID, &d.IdempotencyKey, &d.EventID, &event, &d.RequestID, &channel, &d.UserID, &d.EndpointID,
		&d.Target, &raw, &state, &d.Attempts, &d.LastError, &d.CreatedAt, &d.UpdatedAt, &d.SentAt)
	if err != nil {
		return Delivery{}, err
	}
	d.Event, d.Channel, d.State = Kind(event), Channel(channel), State(state)
	if err := json.Unmarshal(raw, &d.Message); err != nil {
		return Delivery{}, fmt.Errorf("delivery %d: message: %w", d.ID, err)
	}
	return d, nil
}

// Querier runs queries: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// DeliveryGet returns delivery id (ErrNotFound).
func DeliveryGet(ctx context.Context, q Querier, id int64) (Delivery, error) {
	rows, err := q.Query(ctx, deliverySelect+" WHERE id = $1", id)
	if err != nil {
		return Delivery{}, fmt.Errorf("notify: delivery %d: %w", id, err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDelivery)
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivery{}, fmt.Errorf("notify: delivery %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("notify: delivery %d: %w", id, err)
	}
	return d, nil
}

// DeliveryFilter narrows the delivery log.
type DeliveryFilter struct {
	RequestID int64
	State     State
	Channel   Channel
	// Before pages back: deliveries with a smaller id.
	Before int64
}

// DeliveryList returns up to limit deliveries matching f, newest first.
func DeliveryList(ctx context.Context, q Querier, f DeliveryFilter, limit int) ([]Delivery, error) {
	rows, err := q.Query(ctx, deliverySelect+`
		WHERE ($1 = 0 OR request_id = $1) AND ($2 = '' OR state = $2) AND ($3 = '' OR channel = $3)
		  AND ($4 = 0 OR id < $4)
		ORDER BY id DESC LIMIT $5`, f.RequestID, string(f.State), string(f.Channel), f.Before, limit)
	if err != nil {
		return nil, fmt.Errorf("notify: delivery list: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("notify: delivery list: %w", err)
	}
	return list, nil
}
