package inventory

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// NotifyChannel is the PostgreSQL channel on which changes are announced.
// Change requests use it too; a Notification's Type tells them apart.
const NotifyChannel = "clusterdesk"

// Notification is the JSON payload announcing a cluster change.
type Notification struct {
	Type            string     `json:"type"` // always "cluster"
	Change          ChangeKind `json:"change"`
	UID             string     `json:"uid"`
	Name            string     `json:"name"`
	State           string     `json:"state"`
	ResourceVersion int64      `json:"resource_version"`
}

// announce queues one notification per change (PostgreSQL delivers them at
// commit) and runs the OnChange hook.
func (s *Syncer) announce(ctx context.Context, tx pgx.Tx, changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, c := range changes {
		payload, err := json.Marshal(Notification{Type: "cluster", Change: c.Kind, UID: c.UID, Name: c.Name,
			State: string(c.State), ResourceVersion: c.ResourceVersion})
		if err != nil {
			return err
		}
		batch.Queue("SELECT pg_notify($1, $2)", NotifyChannel, string(payload))
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if s.onChange == nil {
		return nil
	}
	if err := s.onChange(ctx, tx, changes); err != nil {
		return fmt.Errorf("on change: %w", err)
	}
	return nil
}
