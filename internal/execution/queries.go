package execution

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Submission is the execution record of one approved revision.
type Submission struct {
	RequestID      int64
	Revision       int
	ClusterUID     string
	OutcomeUnknown bool
	// NeedsPerson is set when execution stopped because it could not tell
	// whether the change was applied (see Reason); a person must look.
	NeedsPerson bool
	// LastAttempt is the number of the latest attempt, 0 before the first.
	LastAttempt int
	// UnknownSince is when the latest attempt of unknown outcome (since
	// the last resend) was started; zero when there is none.
	UnknownSince          time.Time
	TargetResourceVersion int64
	ClusterState          string
	TotalStages           int
	CurrentStage          int
	// Reason says why it failed; FieldErrors are the API's per-field
	// messages of a 400, for the request page.
	Reason      string
	FieldErrors []cloudapi.ErrorDetail
	ApprovedAt  time.Time
	AcceptedAt  time.Time
	FinishedAt  time.Time
}

// SubmissionGet returns the submission of revision revision of request
// id. Errors: pgx.ErrNoRows wrapped when there is none.
func SubmissionGet(ctx context.Context, q approvals.Querier, id int64, revision int) (Submission, error) {
	var (
		s                           Submission
		uid                         *string
		target                      *int64
		fields                      []byte
		unknown, accepted, finished *time.Time
	)
	err := q.QueryRow(ctx, `
		SELECT request_id, revision, cluster_uid, outcome_unknown, needs_person,
		       (SELECT coalesce(max(attempt), 0) FROM submission_attempts a
		        WHERE a.request_id = s.request_id AND a.revision = s.revision),
		       (SELECT max(started_at) FROM submission_attempts a
		        WHERE a.request_id = s.request_id AND a.revision = s.revision
		          AND a.outcome = 'unknown' AND a.attempt > s.attempt_floor),
		       target_resource_version, cluster_state,
		       total_stages, current_stage, reason, field_errors, approved_at, accepted_at, finished_at
		FROM submissions s WHERE request_id = $1 AND revision = $2`, id, revision).Scan(
		&s.RequestID, &s.Revision, &uid, &s.OutcomeUnknown, &s.NeedsPerson, &s.LastAttempt, &unknown, &target,
		&s.ClusterState, &s.TotalStages, &s.CurrentStage, &s.Reason, &fields, &s.ApprovedAt, &accepted, &finished)
	if err != nil {
		return Submission{}, fmt.Errorf("execution: submission of request %d: %w", id, err)
	}
	s.ClusterUID = deref(uid)
	s.TargetResourceVersion = deref(target)
	s.UnknownSince, s.AcceptedAt, s.FinishedAt = deref(unknown), deref(accepted), deref(finished)
	if err := json.Unmarshal(fields, &s.FieldErrors); err != nil {
		return Submission{}, fmt.Errorf("execution: submission of request %d: field errors: %w", id, err)
	}
	return s, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// QueuePosition returns where revision revision of request id stands in
// its cluster's queue: 1 while it is the change being submitted or applied,
// n when n-1 changes of that cluster go first, 0 when it is not queued
// (not approved, or already finished). The queue runs the change in
// flight, then emergency (break-glass) changes, then the others, each in
// approval order: an emergency waits for no approved change, not even one
// held by its change window. Errors: the database's.
func QueuePosition(ctx context.Context, q approvals.Querier, id int64, revision int) (int, error) {
	var pos int
	err := q.QueryRow(ctx, `
		WITH queue AS (`+queueSQL("(SELECT cluster_key FROM submissions WHERE request_id = $1 AND revision = $2)")+`)
		SELECT count(*) FROM queue me JOIN queue s ON `+goesFirstSQL+`
		WHERE me.request_id = $1 AND me.revision = $2`, id, revision).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("execution: queue position of request %d: %w", id, err)
	}
	return pos, nil
}

// queueSQL lists the queued changes (approved, or being sent or applied)
// of the cluster whose queue is clusterKey (SQL), with the order's keys.
func queueSQL(clusterKey string) string {
	return `
	SELECT s.request_id, s.revision, s.seq, r.state, r.kind, s.approved_at,
	       r.state <> 'approved' AS in_flight, e.request_id IS NOT NULL AS emergency
	FROM submissions s
	JOIN change_requests r ON r.id = s.request_id AND r.revision = s.revision
	LEFT JOIN request_emergencies e ON e.request_id = s.request_id
	WHERE s.cluster_key = ` + clusterKey + ` AND r.state IN ('approved', 'submitting', 'applying')`
}

// goesFirstSQL: s runs before me, or is me (queueOrderSQL's order).
const goesFirstSQL = `(s.in_flight AND NOT me.in_flight)
	OR (s.in_flight = me.in_flight AND ((s.emergency AND NOT me.emergency)
	    OR (s.emergency = me.emergency AND s.seq <= me.seq)))`

// queueOrderSQL is the order in which a cluster's queue runs.
const queueOrderSQL = `in_flight DESC, emergency DESC, seq`

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
// finished, in the order they will run (QueuePosition's). Errors: the
// database's.
func ClusterQueue(ctx context.Context, q approvals.Querier, uid string) ([]QueueEntry, error) {
	rows, err := q.Query(ctx, `
		WITH queue AS (`+queueSQL("$1")+`)
		SELECT request_id, revision, kind, state, row_number() OVER (ORDER BY `+queueOrderSQL+`)::int, approved_at
		FROM queue ORDER BY `+queueOrderSQL, uid)
	if err != nil {
		return nil, fmt.Errorf("execution: queue of cluster %q: %w", uid, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (QueueEntry, error) {
		var e QueueEntry
		var kind, state string
		err := row.Scan(&e.RequestID, &e.Revision, &kind, &state, &e.Position, &e.ApprovedAt)
		e.Kind, e.State = approvals.Kind(kind), approvals.State(state)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("execution: queue of cluster %q: %w", uid, err)
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
	// Outcome is one of the Outcome constants; empty while in flight.
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
		return nil, fmt.Errorf("execution: attempts of request %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		var finished *time.Time
		var ms int64
		err := row.Scan(&a.Number, &a.Operation, &a.StartedAt, &finished, &a.Status, &ms, &a.Outcome, &a.Error)
		a.FinishedAt = deref(finished)
		a.Duration = time.Duration(ms) * time.Millisecond
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("execution: attempts of request %d: %w", id, err)
	}
	return out, nil
}
