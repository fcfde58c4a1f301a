package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// ClusterEvent is one event of a cluster as the tracking job copied it.
type ClusterEvent struct {
	ID         int64
	ClusterUID string
	At         time.Time
	Level      string
	Source     string
	Message    string
	// RequestID is the change being applied when it was copied; 0 if none.
	RequestID int64
}

// ClusterEventFilter selects events: of one cluster, or of one request,
// after an id (for a page that catches up after a reconnect).
type ClusterEventFilter struct {
	ClusterUID string
	RequestID  int64
	AfterID    int64
	// Limit caps the result; zero means 100.
	Limit int
}

// ClusterEventList returns the events f selects, oldest first. Errors:
// the database's.
func ClusterEventList(ctx context.Context, q approvals.Querier, f ClusterEventFilter) ([]ClusterEvent, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := q.Query(ctx, `
		SELECT id, cluster_uid, at, level, source, message, coalesce(request_id, 0)
		FROM cluster_events
		WHERE ($1 = '' OR cluster_uid = $1) AND ($2 = 0 OR request_id = $2) AND id > $3
		ORDER BY id LIMIT $4`, f.ClusterUID, f.RequestID, f.AfterID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("worker: cluster events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ClusterEvent, error) {
		var e ClusterEvent
		err := row.Scan(&e.ID, &e.ClusterUID, &e.At, &e.Level, &e.Source, &e.Message, &e.RequestID)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("worker: cluster events: %w", err)
	}
	return out, nil
}
