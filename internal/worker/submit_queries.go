package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// QueueEntry is one approved change waiting for, or running on, a cluster.
type QueueEntry struct {
	RequestID int64
	Revision  int
	Kind      approvals.Kind
	State     approvals.State
	// Position is 1 for the change being submitted or applied.
	Position   int
	ApprovedAt time.Time
}

// ClusterQueue lists the approved changes of cluster uid that have not
// finished, in the order they will run (approval order). Errors: the
// database's.
func ClusterQueue(ctx context.Context, q approvals.Querier, uid string) ([]QueueEntry, error) {
	rows, err := q.Query(ctx, `
		SELECT s.request_id, s.revision, r.kind, r.state,
		       row_number() OVER (ORDER BY s.seq)::int, s.approved_at
		FROM submissions s
		JOIN change_requests r ON r.id = s.request_id AND r.revision = s.revision
		WHERE s.cluster_key = $1 AND r.state IN ('approved', 'submitting', 'applying')
		ORDER BY s.seq`, uid)
	if err != nil {
		return nil, fmt.Errorf("worker: queue of cluster %q: %w", uid, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (QueueEntry, error) {
		var e QueueEntry
		var kind, state string
		err := row.Scan(&e.RequestID, &e.Revision, &kind, &state, &e.Position, &e.ApprovedAt)
		e.Kind, e.State = approvals.Kind(kind), approvals.State(state)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("worker: queue of cluster %q: %w", uid, err)
	}
	return out, nil
}

// Attempt is one recorded call of a submission, for the request page.
type Attempt struct {
	Number     int
	Operation  string
	StartedAt  time.Time
	FinishedAt time.Time // zero while in flight
	// Status is the HTTP status; 0 without an answer.
	Status   int
	Duration time.Duration
	// Outcome is accepted, busy, rate_limited, rejected, unknown or
	// reconciled; empty while in flight.
	Outcome string
	Error   string
}

// AttemptList returns the attempts of revision revision of request id,
// oldest first. Errors: the database's.
func AttemptList(ctx context.Context, q approvals.Querier, id int64, revision int) ([]Attempt, error) {
	rows, err := q.Query(ctx, `
		SELECT attempt, operation, started_at, finished_at, coalesce(response_status, 0),
		       coalesce(duration_ms, 0), coalesce(outcome, ''), error
		FROM submission_attempts WHERE request_id = $1 AND revision = $2 ORDER BY attempt`, id, revision)
	if err != nil {
		return nil, fmt.Errorf("worker: attempts of request %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		var finished *time.Time
		var ms int64
		err := row.Scan(&a.Number, &a.Operation, &a.StartedAt, &finished, &a.Status, &ms, &a.Outcome, &a.Error)
		if finished != nil {
			a.FinishedAt = *finished
		}
		a.Duration = time.Duration(ms) * time.Millisecond
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("worker: attempts of request %d: %w", id, err)
	}
	return out, nil
}
