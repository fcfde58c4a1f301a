package worker

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// Inserter inserts jobs with the worker's client (an admin's resend of a
// notification).
func (w *Worker) Inserter() notify.Inserter { return w.client }

// NotifyInserter returns an insert-only client for a process that runs no
// worker (see Enqueuer): an admin's resend of a notification.
func NotifyInserter(pool *pgxpool.Pool) (notify.Inserter, error) {
	j, err := insertOnly(pool)
	if err != nil {
		return nil, fmt.Errorf("worker: notify inserter: %w", err)
	}
	return j.client, nil
}
