package execution

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// ClusterEvent is one event of a cluster as tracking copied it.
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
	// Since, when set, keeps the events that happened at or after it.
	Since time.Time
	// NewestFirst orders the result newest first (by time, then by copy
	// order) and keeps the newest Limit.
	NewestFirst bool
	// Limit caps the result; zero means 100.
	Limit int
}

// ClusterEventList returns the events f selects, oldest first unless
// f.NewestFirst. Errors: the database's.
func ClusterEventList(ctx context.Context, q approvals.Querier, f ClusterEventFilter) ([]ClusterEvent, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	order := "id"
	if f.NewestFirst {
		order = "at DESC, id DESC"
	}
	var since *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	rows, err := q.Query(ctx, `
		SELECT id, cluster_uid, at, level, source, message, coalesce(request_id, 0)
		FROM cluster_events
		WHERE ($1 = '' OR cluster_uid = $1) AND ($2 = 0 OR request_id = $2) AND id > $3
		  AND ($5::timestamptz IS NULL OR at >= $5)
		ORDER BY `+order+` LIMIT $4`, f.ClusterUID, f.RequestID, f.AfterID, f.Limit, since)
	if err != nil {
		return nil, fmt.Errorf("execution: cluster events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ClusterEvent, error) {
		var e ClusterEvent
		err := row.Scan(&e.ID, &e.ClusterUID, &e.At, &e.Level, &e.Source, &e.Message, &e.RequestID)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("execution: cluster events: %w", err)
	}
	return out, nil
}

// ProgressNotification is the JSON payload (on inventory.NotifyChannel)
// announcing progress of an applied change: new cluster events copied, or
// the update's stage moved.
type ProgressNotification struct {
	Type         string `json:"type"` // always "progress"
	RequestID    int64  `json:"request_id"`
	ClusterUID   string `json:"cluster_uid"`
	ClusterState string `json:"cluster_state"`
	TotalStages  int    `json:"total_stages"`
	CurrentStage int    `json:"current_stage"`
	NewEvents    int    `json:"new_events"`
}

// recordProgress copies c's events not copied yet and the update's
// progress, and announces them when anything moved.
func recordProgress(ctx context.Context, tx pgx.Tx, r approvals.Request, sub Submission, c inventory.Cluster) error {
	var levels, sources, messages []string
	var times []time.Time
	for _, e := range c.Status.Events {
		times = append(times, e.Timestamp)
		levels = append(levels, string(e.Level))
		sources = append(sources, string(e.Source))
		messages = append(messages, e.Message)
	}
	var added int
	if len(times) > 0 {
		err := tx.QueryRow(ctx, `
			WITH added AS (
				INSERT INTO cluster_events (cluster_uid, at, level, source, message, request_id)
				SELECT $1, e.at, e.level, e.source, e.message, $2
				FROM unnest($3::timestamptz[], $4::text[], $5::text[], $6::text[]) AS e(at, level, source, message)
				ON CONFLICT ON CONSTRAINT cluster_events_once DO NOTHING
				RETURNING 1
			)
			SELECT count(*) FROM added`, c.UID, r.ID, times, levels, sources, messages).Scan(&added)
		if err != nil {
			return fmt.Errorf("copy events: %w", err)
		}
	}
	var total, current int
	if u := c.Status.UpdateState; u != nil {
		total, current = int(u.TotalStages), int(u.CurrentStage)
	}
	moved := string(c.State) != sub.ClusterState || total != sub.TotalStages || current != sub.CurrentStage
	if !moved && added == 0 {
		return nil
	}
	payload, err := json.Marshal(ProgressNotification{Type: "progress", RequestID: r.ID, ClusterUID: c.UID,
		ClusterState: string(c.State), TotalStages: total, CurrentStage: current, NewEvents: added})
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		WITH moved AS (
			UPDATE submissions SET cluster_state = $3, total_stages = $4, current_stage = $5, cluster_uid = $6
			WHERE request_id = $1 AND revision = $2 RETURNING 1
		)
		SELECT pg_notify($7, $8) FROM moved`,
		r.ID, r.Revision.Number, string(c.State), total, current, c.UID, inventory.NotifyChannel, string(payload))
	return err
}

// lastEvents is the cluster's last few events, for a failure's reason.
func lastEvents(c inventory.Cluster) string {
	events := c.Status.Events
	if len(events) > 3 {
		events = events[len(events)-3:]
	}
	parts := make([]string, 0, len(events))
	for _, e := range events {
		parts = append(parts, fmt.Sprintf("%s %s: %s", e.Level, e.Source, e.Message))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}
