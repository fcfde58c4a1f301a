package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// EventArgs is a change of a request to tell people of: the notify_event
// job, inserted in the change's own transaction. Its job id is the event's
// id in the delivery log.
type EventArgs struct {
	Event     Kind   `json:"event"`
	Action    string `json:"action"`
	RequestID int64  `json:"request_id"`
	Revision  int    `json:"revision"`
	// ActorID is the acting person's user id ("" for the portal itself);
	// Actor their name as the audit log has it.
	ActorID string `json:"actor_id,omitempty"`
	Actor   string `json:"actor"`
	// Comment is the reason given (a rejection's, a cancellation's, the
	// API's message for a failure).
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// Kind names the job in River's tables.
func (EventArgs) Kind() string { return "notify_event" }

// InsertOpts: the fan-out only reads and writes the database; River's
// default retries cover its errors.
func (EventArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// Queue is River's queue for notification jobs, apart from the
// submissions' so that a slow mail server never delays a change.
const Queue = "notify"

// Inserter inserts a job in a transaction; *river.Client[pgx.Tx] is one.
type Inserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Hook returns the approvals.EventHook that inserts the event's job with
// ins in the change's transaction. Changes nobody is told of insert
// nothing, and neither does an approval that did not yet meet the policy
// (the approvals service calls it only for the one that does).
func Hook(ins Inserter) approvals.EventHook {
	return func(ctx context.Context, tx pgx.Tx, e approvals.Event) error {
		kind, ok := kindOf(e.Action)
		if !ok {
			return nil
		}
		args := EventArgs{Event: kind, Action: string(e.Action), RequestID: e.Request.ID, Revision: e.Request.Revision.Number,
			Actor: e.Actor.Name, Comment: e.Comment, At: time.Now().UTC()}
		if e.Actor.Type == audit.ActorUser {
			args.ActorID = e.Actor.ID
		}
		if _, err := ins.InsertTx(ctx, tx, args, nil); err != nil {
			return fmt.Errorf("notify: queue %s of request %d: %w", kind, e.Request.ID, err)
		}
		return nil
	}
}
