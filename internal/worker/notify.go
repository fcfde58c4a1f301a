package worker

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// OnEvent is the approvals.EventHook of the approvals service and of
// execution: it inserts the notification's job in the change's
// transaction (notify.Hook), to be run by whichever worker has
// Options.Notify. A worker without Options.Notify tells no one, as its
// executor does not (its client refuses jobs it has no worker for).
func (w *Worker) OnEvent(ctx context.Context, tx pgx.Tx, e approvals.Event) error {
	if !w.notifies {
		return nil
	}
	return notify.Hook(w.client)(ctx, tx, e)
}

// Inserter inserts jobs with the worker's client (an admin's resend of a
// notification).
func (w *Worker) Inserter() notify.Inserter { return w.client }

// NotifyInserter returns an insert-only client for a process that runs no
// worker (see Enqueuer): notify.Hook of it is the OnEvent hook.
func NotifyInserter(pool *pgxpool.Pool) (notify.Inserter, error) {
	j, err := insertOnly(pool)
	if err != nil {
		return nil, fmt.Errorf("worker: notify inserter: %w", err)
	}
	return j.client, nil
}
