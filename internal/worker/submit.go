package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// SubmitAPI is the part of the Cloud Manager client that submits changes;
// *cloudapi.Client has it. Give the worker a client with few or no retries
// of its own (cloudapi.RetryPolicy{MaxAttempts: 1}): the submit job
// records, reconciles and retries every attempt itself.
type SubmitAPI interface {
	ListClusters(ctx context.Context, opts ...cloudapi.Option) ([]cloudapi.Cluster, error)
	CreateCluster(ctx context.Context, cluster *cloudapi.Cluster, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
	UpdateCluster(ctx context.Context, id string, patch json.RawMessage, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
	ReplaceCluster(ctx context.Context, id string, cluster *cloudapi.Cluster, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
	DeleteCluster(ctx context.Context, id string) error
	RestartServer(ctx context.Context, id, instanceID string) error
}

// SubmissionOptions configure the execution of approved change requests
// (Options.Submission).
type SubmissionOptions struct {
	// API sends the changes; Inventory reads the cluster before each
	// attempt and while tracking (one GET each, which also refreshes the
	// inventory). Both are required.
	API       SubmitAPI
	Inventory *inventory.Syncer
	// MaxAttempts is the budget of attempts that may have failed upstream
	// (5xx, timeouts, connection errors); 409 and 429 answers do not count.
	// Zero means 8.
	MaxAttempts int
	// RetryBase is the wait after the first failed attempt, doubling after
	// each further one up to RetryMax. Zero means 2 s and 5 min.
	RetryBase, RetryMax time.Duration
	// BusyWait is how long a change waits before trying again when its
	// cluster is busy (409) or another change of the cluster goes first.
	// Zero means 10 s.
	BusyWait time.Duration
	// InFlightTimeout is how long an attempt may stay without an answer
	// recorded before it is taken for one whose process died mid-call: its
	// outcome becomes unknown and the next attempt reconciles. Keep it
	// above the API client's timeout. Zero means 5 min.
	InFlightTimeout time.Duration
	// TrackInterval is how often an accepted change's cluster is read
	// until it has converged; TrackTimeout fails a change that has not
	// converged that long after its acceptance. Zero means 5 s and 2 h.
	TrackInterval, TrackTimeout time.Duration
}

func (o SubmissionOptions) withDefaults() (SubmissionOptions, error) {
	if o.API == nil || o.Inventory == nil {
		return o, errors.New("worker: Submission needs API and Inventory")
	}
	o.MaxAttempts = cmpOr(o.MaxAttempts, 8)
	o.RetryBase = durationOr(o.RetryBase, 2*time.Second)
	o.RetryMax = durationOr(o.RetryMax, 5*time.Minute)
	o.BusyWait = durationOr(o.BusyWait, 10*time.Second)
	o.InFlightTimeout = durationOr(o.InFlightTimeout, 5*time.Minute)
	o.TrackInterval = durationOr(o.TrackInterval, 5*time.Second)
	o.TrackTimeout = durationOr(o.TrackTimeout, 2*time.Hour)
	return o, nil
}

func durationOr(d, fallback time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return fallback
}

// backoff is the wait after failed attempt n (1 for the first).
func (o SubmissionOptions) backoff(n int) time.Duration {
	d := o.RetryBase << min(n-1, 20)
	if d <= 0 || d > o.RetryMax {
		return o.RetryMax
	}
	return d
}

// SubmitArgs submits revision Revision of approved request RequestID.
type SubmitArgs struct {
	RequestID int64 `json:"request_id"`
	Revision  int   `json:"revision"`
	// Resend counts an admin's resends of a failed change (see Resend), so
	// that each is a job of its own.
	Resend int `json:"resend,omitempty"`
}

// Kind names the job in River's tables.
func (SubmitArgs) Kind() string { return "submit" }

// InsertOpts: one job per approved revision, whoever inserts it. River's
// own attempts cover database errors only; upstream failures snooze the
// job and count against SubmissionOptions.MaxAttempts.
func (SubmitArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: allStates()}}
}

func allStates() []rivertype.JobState {
	return []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStateCompleted,
		rivertype.JobStateCancelled, rivertype.JobStateDiscarded}
}

// OnApproved is the approvals.Config.OnApproved hook: in the approving
// transaction it queues the request for its cluster (approval order) and
// inserts its submit job, so the approval and its execution commit or roll
// back together. Errors when the worker has no Submission options (a
// process that approves but runs no jobs uses Enqueuer instead).
func (w *Worker) OnApproved(ctx context.Context, tx pgx.Tx, r approvals.Request) error {
	if !w.submissions {
		return errors.New("worker: submissions are not configured (Options.Submission)")
	}
	return enqueue(ctx, tx, w.client, r)
}

// Enqueuer returns the approvals.Config.OnApproved hook for a process that
// approves requests but runs no jobs (a web-only replica): it inserts with
// an insert-only River client; workers elsewhere run the jobs.
func Enqueuer(pool *pgxpool.Pool) (func(ctx context.Context, tx pgx.Tx, r approvals.Request) error, error) {
	client, err := insertOnlyClient(pool)
	if err != nil {
		return nil, fmt.Errorf("worker: enqueuer: %w", err)
	}
	return func(ctx context.Context, tx pgx.Tx, r approvals.Request) error {
		return enqueue(ctx, tx, client, r)
	}, nil
}

// insertOnlyClient is a River client that inserts jobs but runs none, for a
// process without a worker (Enqueuer, Resender). It keeps the worker's
// FetchCooldown, which for an inserting client is the window in which it
// sends no second insert notification for a queue.
func insertOnlyClient(pool *pgxpool.Pool) (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(pool), &river.Config{FetchCooldown: FetchCooldown})
}

func enqueue(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], r approvals.Request) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO submissions (request_id, revision, cluster_key, cluster_uid)
		VALUES ($1, $2, $3, nullif($4, ''))
		ON CONFLICT (request_id, revision) DO NOTHING`,
		r.ID, r.Revision.Number, clusterKey(r), r.ClusterUID)
	if err != nil {
		return fmt.Errorf("worker: queue request %d: %w", r.ID, err)
	}
	if _, err := client.InsertTx(ctx, tx, SubmitArgs{RequestID: r.ID, Revision: r.Revision.Number}, nil); err != nil {
		return fmt.Errorf("worker: enqueue request %d: %w", r.ID, err)
	}
	return nil
}

// clusterKey names the cluster a request acts on, for the queue: its uid,
// or its name for a cluster yet to be created.
func clusterKey(r approvals.Request) string {
	if r.Kind == approvals.KindCreate {
		return "name:" + r.ClusterName
	}
	return r.ClusterUID
}

// QueuePosition returns where revision revision of request id stands in
// its cluster's queue: 1 while it is the change being submitted or applied,
// n when n-1 approved changes of that cluster go first, 0 when it is not
// queued (not approved, or already finished). Errors: the database's.
func QueuePosition(ctx context.Context, q approvals.Querier, id int64, revision int) (int, error) {
	var pos int
	err := q.QueryRow(ctx, `
		SELECT count(*) FROM submissions me
		JOIN change_requests mr ON mr.id = me.request_id AND mr.revision = me.revision
		JOIN submissions s ON s.cluster_key = me.cluster_key AND s.seq <= me.seq
		JOIN change_requests r ON r.id = s.request_id AND r.revision = s.revision
		WHERE me.request_id = $1 AND me.revision = $2
		  AND mr.state IN ('approved', 'submitting', 'applying')
		  AND r.state IN ('approved', 'submitting', 'applying')`, id, revision).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("worker: queue position of request %d: %w", id, err)
	}
	return pos, nil
}

// Submission is the execution record of one approved revision.
type Submission struct {
	RequestID      int64
	Revision       int
	ClusterUID     string
	OutcomeUnknown bool
	// LastAttempt is the number of the latest attempt, 0 before the first.
	LastAttempt           int
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
		s                  Submission
		uid                *string
		target             *int64
		fields             []byte
		accepted, finished *time.Time
	)
	err := q.QueryRow(ctx, `
		SELECT request_id, revision, cluster_uid, outcome_unknown,
		       (SELECT coalesce(max(attempt), 0) FROM submission_attempts a
		        WHERE a.request_id = s.request_id AND a.revision = s.revision),
		       target_resource_version, cluster_state,
		       total_stages, current_stage, reason, field_errors, approved_at, accepted_at, finished_at
		FROM submissions s WHERE request_id = $1 AND revision = $2`, id, revision).Scan(
		&s.RequestID, &s.Revision, &uid, &s.OutcomeUnknown, &s.LastAttempt, &target, &s.ClusterState,
		&s.TotalStages, &s.CurrentStage, &s.Reason, &fields, &s.ApprovedAt, &accepted, &finished)
	if err != nil {
		return Submission{}, fmt.Errorf("worker: submission of request %d: %w", id, err)
	}
	if uid != nil {
		s.ClusterUID = *uid
	}
	if target != nil {
		s.TargetResourceVersion = *target
	}
	if accepted != nil {
		s.AcceptedAt = *accepted
	}
	if finished != nil {
		s.FinishedAt = *finished
	}
	if err := json.Unmarshal(fields, &s.FieldErrors); err != nil {
		return Submission{}, fmt.Errorf("worker: submission of request %d: field errors: %w", id, err)
	}
	return s, nil
}

type submitWorker struct {
	river.WorkerDefaults[SubmitArgs]
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx] // set once the client exists, for the track job
	opts   SubmissionOptions
}

// Timeout bounds one run (a read and one call) well below
// InFlightTimeout, so that an attempt older than that is surely one whose
// process died.
func (w *submitWorker) Timeout(*river.Job[SubmitArgs]) time.Duration {
	return w.opts.InFlightTimeout / 2
}

// NextRetry: database errors are retried soon; upstream failures never
// reach River (they snooze).
func (w *submitWorker) NextRetry(job *river.Job[SubmitArgs]) time.Time {
	return time.Now().Add(w.opts.backoff(job.Attempt))
}

// live is what one read of the cluster before an attempt found.
type live struct {
	cluster *cloudapi.Cluster // nil when gone
}

// Work runs one attempt of the submission, if it is still due:
//
//  1. without locks: is the request still approved (or submitting) at
//     this revision, and first in its cluster's queue? Then read the
//     cluster once (refreshing the inventory);
//  2. under the request's row lock: reconcile after an attempt of unknown
//     outcome, refuse a cluster that moved (stale), give up after the
//     budget, or record the attempt (submission.started the first time);
//  3. call the API;
//  4. under the row lock again: complete the attempt and move the request
//     on (applying and a track job, failed with the API's messages, or a
//     snooze to try again).
func (w *submitWorker) Work(ctx context.Context, job *river.Job[SubmitArgs]) error {
	id, rev := job.Args.RequestID, job.Args.Revision
	r, err := approvals.Get(ctx, w.pool, id)
	if err != nil {
		return err
	}
	if !due(r, rev) {
		return nil // cancelled, voided, stale or finished: nothing is sent
	}
	pos, err := QueuePosition(ctx, w.pool, id, rev)
	if err != nil {
		return err
	}
	if pos > 1 {
		return river.JobSnooze(w.opts.BusyWait)
	}
	wait, err := w.settleInFlight(ctx, id, rev)
	if err != nil {
		return err
	}
	if wait {
		return river.JobSnooze(w.opts.BusyWait)
	}
	sub, err := SubmissionGet(ctx, w.pool, id, rev)
	if err != nil {
		return err
	}
	now, err := w.read(ctx, r, sub)
	if err != nil {
		// Reading is safe to repeat and costs no budget.
		return river.JobSnooze(w.opts.backoff(1))
	}

	var (
		call     *attempt
		snooze   time.Duration
		finished bool
	)
	err = pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		r, err := approvals.Lock(ctx, tx, id)
		if err != nil {
			return err
		}
		if !due(r, rev) {
			finished = true
			return nil
		}
		call, snooze, finished, err = w.prepare(ctx, tx, &r, sub, now)
		return err
	})
	if err != nil || finished {
		return err
	}
	if call == nil {
		return river.JobSnooze(snooze)
	}

	call.run(ctx, w.opts.API)
	// The outcome must be stored even when the job is being cancelled.
	done := context.WithoutCancel(ctx)
	err = pgx.BeginFunc(done, w.pool, func(tx pgx.Tx) error {
		r, err := approvals.Lock(done, tx, id)
		if err != nil {
			return err
		}
		snooze, err = w.complete(done, tx, &r, call)
		return err
	})
	if err != nil {
		return err
	}
	if snooze > 0 {
		return river.JobSnooze(snooze)
	}
	return nil
}

// settleInFlight deals with an attempt of revision rev of request id that
// has no recorded answer: while it is younger than InFlightTimeout another
// run may still be waiting for it (wait); older, its process died
// mid-call, so its outcome is recorded as unknown and the next attempt
// reconciles first.
func (w *submitWorker) settleInFlight(ctx context.Context, id int64, rev int) (wait bool, err error) {
	var young, old int
	err = w.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE started_at > now() - $3::interval), count(*) FILTER (WHERE started_at <= now() - $3::interval)
		FROM submission_attempts WHERE request_id = $1 AND revision = $2 AND outcome IS NULL`,
		id, rev, w.opts.InFlightTimeout).Scan(&young, &old)
	if err != nil || young > 0 || old == 0 {
		return young > 0, err
	}
	_, err = w.pool.Exec(ctx, `
		WITH settled AS (
			UPDATE submission_attempts SET outcome = 'unknown', finished_at = now(),
			       error = 'no answer recorded: the process stopped during the call'
			WHERE request_id = $1 AND revision = $2 AND outcome IS NULL AND started_at <= now() - $3::interval
			RETURNING 1
		)
		UPDATE submissions SET outcome_unknown = true
		WHERE request_id = $1 AND revision = $2 AND EXISTS (SELECT 1 FROM settled)`, id, rev, w.opts.InFlightTimeout)
	return false, err
}

// due reports whether the job for revision rev of r still has work.
func due(r approvals.Request, rev int) bool {
	return r.Revision.Number == rev && (r.State == approvals.StateApproved || r.State == approvals.StateSubmitting)
}

// read fetches what the next attempt needs to know about the cluster:
// one GET through the inventory for a change of an existing cluster; for a
// create only after an earlier attempt, a list to find it by name.
func (w *submitWorker) read(ctx context.Context, r approvals.Request, sub Submission) (live, error) {
	if r.Kind == approvals.KindCreate {
		if !mayBeApplied(r, sub) {
			return live{}, nil
		}
		clusters, err := w.opts.API.ListClusters(ctx)
		if err != nil {
			return live{}, err
		}
		for _, c := range clusters {
			if c.Metadata.Name == r.ClusterName {
				return live{cluster: &c}, nil
			}
		}
		return live{}, nil
	}
	c, err := w.opts.Inventory.Refresh(ctx, r.ClusterUID)
	if errors.Is(err, inventory.ErrNotFound) {
		return live{}, nil
	}
	if err != nil {
		return live{}, err
	}
	status := c.Status
	status.ResourceVersion = c.ResourceVersion
	return live{cluster: &cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{UID: c.UID, Name: c.Name}, Spec: c.Spec, Status: &status}}, nil
}

// prepare decides, under r's row lock, what this run does: nothing more
// (finished), reconcile, wait (snooze), or send the returned attempt, which
// it records first.
func (w *submitWorker) prepare(ctx context.Context, tx pgx.Tx, r *approvals.Request, sub Submission, now live) (*attempt, time.Duration, bool, error) {
	if mayBeApplied(*r, sub) {
		applied, uid, err := reconcile(*r, now)
		if err != nil {
			return nil, 0, false, err
		}
		if applied {
			return nil, 0, true, w.reconciled(ctx, tx, r, sub, now, uid)
		}
	}
	if r.Kind != approvals.KindCreate {
		if now.cluster == nil {
			return nil, 0, true, failRequest(ctx, tx, r, "the cluster no longer exists", nil)
		}
		if rv := now.cluster.Status.ResourceVersion; rv != r.Revision.BaseResourceVersion {
			// The cluster moved and (reconciled above) the change is not
			// there: back to the requester to rebase, nothing is sent.
			submitting := r.State == approvals.StateSubmitting
			if err := approvals.MarkStale(ctx, tx, r, rv, workerActor); err != nil {
				return nil, 0, true, err
			}
			if submitting {
				// Versions seen while the submission was open are not its own.
				return nil, 0, true, settleVersions(ctx, tx, *r, "")
			}
			return nil, 0, true, nil
		}
	}
	var counted, inFlight, n int
	err := tx.QueryRow(ctx, `
		SELECT count(a.attempt) FILTER (WHERE a.outcome = 'unknown' AND a.attempt > s.attempt_floor),
		       count(a.attempt) FILTER (WHERE a.outcome IS NULL), coalesce(max(a.attempt), 0)
		FROM submissions s LEFT JOIN submission_attempts a USING (request_id, revision)
		WHERE s.request_id = $1 AND s.revision = $2
		GROUP BY s.attempt_floor`, r.ID, r.Revision.Number).Scan(&counted, &inFlight, &n)
	if err != nil {
		return nil, 0, false, err
	}
	if inFlight > 0 {
		// An overlapping run (a rescued job's zombie) is in the middle of a
		// call: never send a second one beside it.
		return nil, w.opts.BusyWait, false, nil
	}
	if n != sub.LastAttempt {
		// An overlapping run made an attempt after this run read the
		// cluster: what it read may not show that attempt's effect.
		return nil, w.opts.BusyWait, false, nil
	}
	if counted >= w.opts.MaxAttempts {
		var last string
		_ = tx.QueryRow(ctx, `SELECT error FROM submission_attempts WHERE request_id = $1 AND revision = $2
			ORDER BY attempt DESC LIMIT 1`, r.ID, r.Revision.Number).Scan(&last)
		return nil, 0, true, failRequest(ctx, tx, r, fmt.Sprintf("abandoned after %d failed attempts: %s", counted, last), nil)
	}
	call, err := newAttempt(*r, sub, n+1)
	if err != nil {
		return nil, 0, true, failRequest(ctx, tx, r, "cannot build the API request: "+err.Error(), nil)
	}
	if r.State == approvals.StateApproved {
		if err := approvals.SetState(ctx, tx, r, approvals.StateSubmitting); err != nil {
			return nil, 0, false, err
		}
		if err := appendEvent(ctx, tx, *r, audit.SubmissionStarted, map[string]any{
			"operation": call.operation, "request_digest": fmt.Sprintf("%x", call.digest)}); err != nil {
			return nil, 0, false, err
		}
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO submission_attempts (request_id, revision, attempt, operation, request_digest)
		VALUES ($1, $2, $3, $4, $5)`, r.ID, r.Revision.Number, call.number, call.operation, call.digest[:])
	if err != nil {
		return nil, 0, false, err
	}
	return call, 0, false, nil
}

// mayBeApplied reports whether an earlier attempt may have applied r's
// change: one of unknown outcome, or any earlier attempt at all, since a
// client that retries inside one call (a dropped answer, then 409 from the
// change it applied) can hide an unknown outcome behind a known one.
func mayBeApplied(r approvals.Request, sub Submission) bool {
	return sub.OutcomeUnknown || r.State == approvals.StateSubmitting
}

// reconcile reports whether the change of r is already in the cluster as
// now shows it, and for a create the uid of the cluster found by name.
func reconcile(r approvals.Request, now live) (bool, string, error) {
	c := now.cluster
	switch r.Kind {
	case approvals.KindCreate:
		if c != nil {
			return true, c.Metadata.UID, nil
		}
		return false, "", nil
	case approvals.KindDelete:
		return c == nil, "", nil
	}
	if c == nil {
		return false, "", nil
	}
	switch r.Kind {
	case approvals.KindRestartServer:
		for _, s := range c.Status.Servers {
			if s.InstanceID == r.Revision.Payload.InstanceID {
				return false, "", nil
			}
		}
		return true, "", nil
	case approvals.KindRollback, approvals.KindReplace:
		// The whole spec was sent: applied when the live spec is it.
		if r.Revision.ProposedSpec == nil {
			return false, "", errors.New("a replacing request without a spec")
		}
		want, err := json.Marshal(r.Revision.ProposedSpec)
		if err != nil {
			return false, "", err
		}
		have, err := json.Marshal(c.Spec)
		if err != nil {
			return false, "", err
		}
		return sameJSON(want, have), "", nil
	default: // update, stop, start: merging the patch again changes nothing
		patch, err := r.Revision.Patch()
		if err != nil {
			return false, "", err
		}
		doc, err := json.Marshal(cloudapi.Cluster{Spec: c.Spec})
		if err != nil {
			return false, "", err
		}
		merged, err := cloudapi.ApplyMergePatch(doc, patch)
		if err != nil {
			return false, "", err
		}
		return sameJSON(doc, merged), "", nil
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ca, _ := json.Marshal(x)
	cb, _ := json.Marshal(y)
	return bytes.Equal(ca, cb)
}

// reconciled records that an earlier attempt of unknown outcome did apply
// the change, and moves on to tracking it.
func (w *submitWorker) reconciled(ctx context.Context, tx pgx.Tx, r *approvals.Request, sub Submission, now live, uid string) error {
	var target *int64
	if now.cluster != nil && now.cluster.Status != nil {
		target = &now.cluster.Status.ResourceVersion
	}
	_, err := tx.Exec(ctx, `
		UPDATE submissions SET outcome_unknown = false, accepted_at = now(),
		       cluster_uid = coalesce(nullif($3, ''), cluster_uid), target_resource_version = $4
		WHERE request_id = $1 AND revision = $2`, r.ID, r.Revision.Number, uid, target)
	if err != nil {
		return err
	}
	if err := settleVersions(ctx, tx, *r, uid); err != nil {
		return err
	}
	if err := appendEvent(ctx, tx, *r, audit.SubmissionReconciled, map[string]any{
		"found": "the change was already applied by an earlier attempt whose answer was lost", "cluster_uid": uid}); err != nil {
		return err
	}
	return w.accept(ctx, tx, r)
}

// accept moves r to applying and queues its tracking.
func (w *submitWorker) accept(ctx context.Context, tx pgx.Tx, r *approvals.Request) error {
	if err := approvals.SetState(ctx, tx, r, approvals.StateApplying); err != nil {
		return err
	}
	_, err := w.client.InsertTx(ctx, tx, TrackArgs{RequestID: r.ID, Revision: r.Revision.Number}, nil)
	return err
}

// failRequest ends r (locked) as failed with reason and the API's field
// errors, and audits it. An approved request passes through submitting,
// as the state machine wants.
func failRequest(ctx context.Context, tx pgx.Tx, r *approvals.Request, reason string, fields []cloudapi.ErrorDetail) error {
	// A request failed before anything was sent leaves no version to settle.
	sent := r.State != approvals.StateApproved
	if r.State == approvals.StateApproved {
		if err := approvals.SetState(ctx, tx, r, approvals.StateSubmitting); err != nil {
			return err
		}
	}
	if fields == nil {
		fields = []cloudapi.ErrorDetail{}
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE submissions SET reason = $3, field_errors = $4, finished_at = now()
		WHERE request_id = $1 AND revision = $2`, r.ID, r.Revision.Number, reason, raw); err != nil {
		return err
	}
	if err := approvals.SetState(ctx, tx, r, approvals.StateFailed); err != nil {
		return err
	}
	if sent {
		if err := settleVersions(ctx, tx, *r, ""); err != nil {
			return err
		}
	}
	return appendEvent(ctx, tx, *r, audit.SubmissionFailed, map[string]any{"reason": reason, "field_errors": fields})
}

// settleVersions attributes the versions of r's cluster (uid, when r's
// ClusterUID is not set yet) now that r's submission has an outcome: the
// version it produced becomes r's, versions made beside it drift (see
// approvals.SettleVersions). Call it before appending to the audit log in
// tx.
func settleVersions(ctx context.Context, tx pgx.Tx, r approvals.Request, uid string) error {
	if uid == "" {
		uid = r.ClusterUID
	}
	if uid == "" {
		return nil
	}
	return approvals.SettleVersions(ctx, tx, uid)
}

// appendEvent audits action on r by the worker, with the request's
// cluster and revision in data.
func appendEvent(ctx context.Context, tx pgx.Tx, r approvals.Request, action audit.Action, data map[string]any) error {
	data["revision"] = r.Revision.Number
	data["kind"] = string(r.Kind)
	data["cluster_name"] = r.ClusterName
	if r.ClusterUID != "" {
		data["cluster_uid"] = r.ClusterUID
	}
	_, err := audit.Append(ctx, tx, audit.Event{
		Actor: workerActor, Action: action,
		Subject: audit.Subject{Type: audit.SubjectRequest, ID: fmt.Sprint(r.ID)}, Data: data,
	})
	return err
}

// complete stores the outcome of call and moves r on; a positive duration
// asks the job to try again after it.
func (w *submitWorker) complete(ctx context.Context, tx pgx.Tx, r *approvals.Request, call *attempt) (time.Duration, error) {
	outcome := call.outcome()
	_, err := tx.Exec(ctx, `
		UPDATE submission_attempts SET finished_at = now(), response_status = nullif($4, 0), body_digest = $5,
		       duration_ms = $6, outcome = $7, error = $8
		WHERE request_id = $1 AND revision = $2 AND attempt = $3`,
		r.ID, r.Revision.Number, call.number, call.status, call.bodyDigest(), call.took.Milliseconds(), outcome, call.errText())
	if err != nil {
		return 0, err
	}
	if r.State != approvals.StateSubmitting {
		return 0, nil // an overlapping run finished it; this answer changes nothing
	}
	if _, err := tx.Exec(ctx, `UPDATE submissions SET outcome_unknown = $3 WHERE request_id = $1 AND revision = $2`,
		r.ID, r.Revision.Number, outcome == "unknown"); err != nil {
		return 0, err
	}
	data := map[string]any{"attempt": call.number, "operation": call.operation, "outcome": outcome,
		"status": call.status, "duration_ms": call.took.Milliseconds()}
	switch outcome {
	case "accepted":
		var target *int64
		uid := ""
		if call.reply != nil && call.reply.Status != nil {
			target = &call.reply.Status.ResourceVersion
		}
		if call.reply != nil {
			uid = call.reply.Metadata.UID
		}
		if _, err := tx.Exec(ctx, `
			UPDATE submissions SET accepted_at = now(), target_resource_version = $3,
			       cluster_uid = coalesce(nullif($4, ''), cluster_uid)
			WHERE request_id = $1 AND revision = $2`, r.ID, r.Revision.Number, target, uid); err != nil {
			return 0, err
		}
		if err := settleVersions(ctx, tx, *r, uid); err != nil {
			return 0, err
		}
		if err := appendEvent(ctx, tx, *r, audit.SubmissionSucceeded, data); err != nil {
			return 0, err
		}
		return 0, w.accept(ctx, tx, r)
	case "rejected":
		var fields []cloudapi.ErrorDetail
		if apiErr, ok := errors.AsType[*cloudapi.APIError](call.err); ok {
			fields = apiErr.Details
		}
		return 0, failRequest(ctx, tx, r, "the Cloud Manager API refused the change: "+call.errText(), fields)
	}
	data["error"] = call.errText()
	wait := w.opts.BusyWait
	switch outcome {
	case "rate_limited":
		if after, ok := cloudapi.RetryAfter(call.err); ok {
			wait = after
		}
	case "unknown":
		wait = w.opts.backoff(call.number)
	}
	data["retry_in_ms"] = wait.Milliseconds()
	return wait, appendEvent(ctx, tx, *r, audit.SubmissionRetried, data)
}

// attempt is one call that may change a cluster.
type attempt struct {
	number    int
	operation cloudapi.Operation
	digest    [32]byte
	send      func(ctx context.Context, api SubmitAPI) (*cloudapi.Cluster, error)

	reply  *cloudapi.Cluster
	err    error
	status int
	took   time.Duration
}

// newAttempt builds attempt n of r's change: the operation, a digest of
// what is sent (method, path and body) and the call itself.
func newAttempt(r approvals.Request, sub Submission, n int) (*attempt, error) {
	a := &attempt{number: n}
	uid := r.ClusterUID
	var method, path string
	var body []byte
	switch r.Kind {
	case approvals.KindCreate:
		if r.Revision.ProposedSpec == nil {
			return nil, errors.New("create request without a spec")
		}
		cluster := &cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: r.ClusterName}, Spec: *r.Revision.ProposedSpec}
		var err error
		if body, err = json.Marshal(cluster); err != nil {
			return nil, err
		}
		a.operation, method, path = cloudapi.OpCreateCluster, http.MethodPost, "/clusters"
		a.send = func(ctx context.Context, api SubmitAPI) (*cloudapi.Cluster, error) {
			return api.CreateCluster(ctx, cluster)
		}
	case approvals.KindUpdate, approvals.KindStop, approvals.KindStart:
		patch, err := r.Revision.Patch()
		if err != nil {
			return nil, err
		}
		body = patch
		a.operation, method, path = cloudapi.OpUpdateCluster, http.MethodPatch, "/clusters/"+uid
		a.send = func(ctx context.Context, api SubmitAPI) (*cloudapi.Cluster, error) {
			return api.UpdateCluster(ctx, uid, patch)
		}
	case approvals.KindRollback, approvals.KindReplace:
		// A PUT of the whole proposed spec; approvals made sure it has
		// spec.pivot.accessMode, without which the service answers 500.
		spec := r.Revision.ProposedSpec
		if spec == nil || spec.Pivot == nil || spec.Pivot.AccessMode == "" {
			return nil, errors.New("a replacing request needs a spec with spec.pivot.accessMode")
		}
		cluster := &cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: r.ClusterName, UID: uid}, Spec: *spec}
		var err error
		if body, err = json.Marshal(cluster); err != nil {
			return nil, err
		}
		a.operation, method, path = cloudapi.OpReplaceCluster, http.MethodPut, "/clusters/"+uid
		a.send = func(ctx context.Context, api SubmitAPI) (*cloudapi.Cluster, error) {
			return api.ReplaceCluster(ctx, uid, cluster)
		}
	case approvals.KindDelete:
		a.operation, method, path = cloudapi.OpDeleteCluster, http.MethodDelete, "/clusters/"+uid
		a.send = func(ctx context.Context, api SubmitAPI) (*cloudapi.Cluster, error) {
			return nil, api.DeleteCluster(ctx, uid)
		}
	case approvals.KindRestartServer:
		instance := r.Revision.Payload.InstanceID
		a.operation, method, path = cloudapi.OpRestartServer, http.MethodPost, "/clusters/"+uid+"/servers/"+instance+"/restart"
		a.send = func(ctx context.Context, api SubmitAPI) (*cloudapi.Cluster, error) {
			return nil, api.RestartServer(ctx, uid, instance)
		}
	default:
		return nil, fmt.Errorf("requests of kind %s cannot be submitted yet", r.Kind)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", method, path)
	h.Write(body)
	copy(a.digest[:], h.Sum(nil))
	return a, nil
}

func (a *attempt) run(ctx context.Context, api SubmitAPI) {
	start := time.Now()
	a.reply, a.err = a.send(ctx, api)
	a.took = time.Since(start)
	switch apiErr, ok := errors.AsType[*cloudapi.APIError](a.err); {
	case a.err == nil:
		a.status = http.StatusOK // the client returns only on 2xx
	case ok:
		a.status = apiErr.StatusCode
	}
}

// outcome classifies the answer: accepted; busy (409) and rate_limited
// (429), which did not change anything and cost no budget; rejected (any
// other 4xx, final); unknown (5xx, timeouts, connection errors: the change
// may or may not have been applied).
func (a *attempt) outcome() string {
	apiErr, isAPI := errors.AsType[*cloudapi.APIError](a.err)
	switch {
	case a.err == nil:
		return "accepted"
	case cloudapi.IsBusy(a.err):
		return "busy"
	case isAPI && apiErr.StatusCode == http.StatusTooManyRequests:
		return "rate_limited"
	case isAPI && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 && apiErr.StatusCode != http.StatusRequestTimeout:
		return "rejected"
	default:
		return "unknown"
	}
}

// bodyDigest is the SHA-256 of the answer as the client decoded it (the
// cluster, or the API's error), nil without an answer.
func (a *attempt) bodyDigest() []byte {
	var v any
	switch apiErr, ok := errors.AsType[*cloudapi.APIError](a.err); {
	case a.err == nil && a.reply != nil:
		v = a.reply
	case a.err == nil:
		v = struct{}{}
	case ok:
		v = apiErr
	default:
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(raw)
	return sum[:]
}

func (a *attempt) errText() string {
	if a.err == nil {
		return ""
	}
	return a.err.Error()
}
