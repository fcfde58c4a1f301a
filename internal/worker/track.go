package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// TrackArgs follows the cluster of an accepted change (request RequestID at
// Revision, state applying) until it has converged or failed.
type TrackArgs struct {
	RequestID int64 `json:"request_id"`
	Revision  int   `json:"revision"`
}

// Kind names the job in River's tables.
func (TrackArgs) Kind() string { return "track" }

// InsertOpts: one tracker per accepted revision.
func (TrackArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: allStates()}}
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

type trackWorker struct {
	river.WorkerDefaults[TrackArgs]
	pool *pgxpool.Pool
	opts SubmissionOptions
}

// NextRetry: a database error is retried at the tracking pace.
func (w *trackWorker) NextRetry(*river.Job[TrackArgs]) time.Time {
	return time.Now().Add(w.opts.TrackInterval)
}

// Work reads the cluster once through the inventory (which refreshes the
// cache and announces the cluster), copies its new events, records the
// update's progress, and ends the request when the cluster has converged
// (succeeded) or cannot (failed); otherwise it looks again after
// TrackInterval.
func (w *trackWorker) Work(ctx context.Context, job *river.Job[TrackArgs]) error {
	id, rev := job.Args.RequestID, job.Args.Revision
	r, err := approvals.Get(ctx, w.pool, id)
	if err != nil {
		return err
	}
	if r.Revision.Number != rev || r.State != approvals.StateApplying {
		return nil
	}
	sub, err := SubmissionGet(ctx, w.pool, id, rev)
	if err != nil {
		return err
	}
	if sub.ClusterUID == "" {
		return w.end(ctx, id, "the API accepted the create but named no cluster to follow")
	}
	c, err := w.opts.Inventory.Refresh(ctx, sub.ClusterUID)
	gone := errors.Is(err, inventory.ErrNotFound)
	if err != nil && !gone {
		return river.JobSnooze(w.opts.TrackInterval) // reading again is the retry
	}

	var done bool
	err = pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		r, err := approvals.Lock(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.Revision.Number != rev || r.State != approvals.StateApplying {
			done = true
			return nil
		}
		if r.Kind == approvals.KindCreate && !gone {
			if r, err = approvals.AttachCluster(ctx, tx, id, sub.ClusterUID); err != nil {
				return err
			}
		}
		if !gone {
			if err := recordProgress(ctx, tx, r, sub, c); err != nil {
				return err
			}
		}
		verdict, reason := converged(r, sub, c, gone)
		switch {
		case verdict == convergedYes:
			done = true
			return finish(ctx, tx, &r, c, gone)
		case verdict == convergedNever:
			done = true
			return failRequest(ctx, tx, &r, reason, nil)
		case !sub.AcceptedAt.IsZero() && time.Since(sub.AcceptedAt) > w.opts.TrackTimeout:
			done = true
			return failRequest(ctx, tx, &r, fmt.Sprintf("the cluster had not converged %s after the change was accepted; last events: %s",
				w.opts.TrackTimeout, lastEvents(c)), nil)
		}
		return nil
	})
	if err != nil || done {
		return err
	}
	return river.JobSnooze(w.opts.TrackInterval)
}

// end fails request id outside Work's transaction.
func (w *trackWorker) end(ctx context.Context, id int64, reason string) error {
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		r, err := approvals.Lock(ctx, tx, id)
		if err != nil || r.State != approvals.StateApplying {
			return err
		}
		return failRequest(ctx, tx, &r, reason, nil)
	})
}

type verdict int

const (
	convergedNotYet verdict = iota
	convergedYes
	convergedNever
)

// converged says whether the cluster c (gone: the API no longer has it)
// shows r's change done: a create STARTED, a stop STOPPED, a start
// STARTED, a delete gone, an update at its new resource version and no
// longer updating, a restart without the old instance. A cluster that
// settles unhealthy, or disappears under a change, never converges.
func converged(r approvals.Request, sub Submission, c inventory.Cluster, gone bool) (verdict, string) {
	if r.Kind == approvals.KindDelete {
		if gone {
			return convergedYes, ""
		}
		return convergedNotYet, ""
	}
	if gone {
		return convergedNever, "the cluster disappeared while the change was applied"
	}
	state := c.Status.State
	if state.Busy() {
		return convergedNotYet, ""
	}
	if c.Status.Status != "" && c.Status.Status != cloudapi.HealthOK {
		return convergedNever, fmt.Sprintf("the cluster settled in state %s with status %s; last events: %s", state, c.Status.Status, lastEvents(c))
	}
	switch r.Kind {
	case approvals.KindCreate, approvals.KindStart:
		if state == cloudapi.StateStarted {
			return convergedYes, ""
		}
	case approvals.KindStop:
		if state == cloudapi.StateStopped {
			return convergedYes, ""
		}
	case approvals.KindUpdate, approvals.KindRollback, approvals.KindReplace:
		if c.ResourceVersion >= sub.TargetResourceVersion && c.ResourceVersion != r.Revision.BaseResourceVersion {
			return convergedYes, ""
		}
	case approvals.KindRestartServer:
		if _, still := c.Server(r.Revision.Payload.InstanceID); !still {
			return convergedYes, ""
		}
	}
	return convergedNotYet, ""
}

// finish marks r succeeded.
func finish(ctx context.Context, tx pgx.Tx, r *approvals.Request, c inventory.Cluster, gone bool) error {
	if _, err := tx.Exec(ctx, `UPDATE submissions SET finished_at = now() WHERE request_id = $1 AND revision = $2`,
		r.ID, r.Revision.Number); err != nil {
		return err
	}
	if err := approvals.SetState(ctx, tx, r, approvals.StateSucceeded); err != nil {
		return err
	}
	// Versions seen while the change was applied and not yet attributed
	// are settled now that nothing of this request is in flight.
	if err := settleVersions(ctx, tx, *r, c.UID); err != nil {
		return err
	}
	data := map[string]any{"converged": true}
	if !gone {
		data["cluster_state"] = string(c.State)
		data["resource_version"] = c.ResourceVersion
	}
	return appendEvent(ctx, tx, *r, audit.SubmissionApplied, data)
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
