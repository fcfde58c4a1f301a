package execution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// complete stores the answer of a and moves r on; a positive duration
// asks for another run after it.
func (e *Executor) complete(ctx context.Context, tx pgx.Tx, r *approvals.Request, k kind, a *attempt) (time.Duration, error) {
	outcome := a.outcome(k)
	_, err := tx.Exec(ctx, `
		UPDATE submission_attempts SET finished_at = now(), response_status = nullif($4, 0), body_digest = $5,
		       duration_ms = $6, outcome = $7, error = $8
		WHERE request_id = $1 AND revision = $2 AND attempt = $3`,
		r.ID, r.Revision.Number, a.number, a.status, a.bodyDigest(), a.took.Milliseconds(), outcome, a.errText())
	if err != nil {
		return 0, err
	}
	if r.State != approvals.StateSubmitting {
		return 0, nil // an overlapping run finished it; this answer changes nothing
	}
	if _, err := tx.Exec(ctx, `UPDATE submissions SET outcome_unknown = $3 WHERE request_id = $1 AND revision = $2`,
		r.ID, r.Revision.Number, outcome == OutcomeUnknown); err != nil {
		return 0, err
	}
	data := map[string]any{"attempt": a.number, "operation": a.operation, "outcome": outcome,
		"status": a.status, "duration_ms": a.took.Milliseconds()}
	switch outcome {
	case OutcomeAccepted:
		if a.err != nil {
			data["found"] = "the cluster was already gone (404)"
		}
		if a.reply == nil {
			// An empty reply, or a cluster gone: tracking reads the
			// cluster (a create's by name) to learn the rest.
			data["reply"] = "none"
		}
		return 0, e.accepted(ctx, tx, r, a.reply, audit.SubmissionSucceeded, data)
	case OutcomeRejected:
		var fields []cloudapi.ErrorDetail
		if apiErr, ok := errors.AsType[*cloudapi.APIError](a.err); ok {
			fields = apiErr.Details
		}
		return 0, e.fail(ctx, tx, r, "the Cloud Manager API refused the change: "+a.errText(), fields)
	}
	data["error"] = a.errText()
	wait := e.opts.BusyWait
	switch outcome {
	case OutcomeRateLimited:
		if after, ok := cloudapi.RetryAfter(a.err); ok {
			wait = after
		}
	case OutcomeUnknown:
		wait = e.opts.backoff(a.number)
	}
	data["retry_in_ms"] = wait.Milliseconds()
	return wait, appendEvent(ctx, tx, *r, audit.SubmissionRetried, data)
}

// accepted records that the API took r's change (c: the cluster as the
// API answered or as found, nil when unknown), audits action, and moves r
// to applying with its tracking queued.
func (e *Executor) accepted(ctx context.Context, tx pgx.Tx, r *approvals.Request, c *cloudapi.Cluster, action audit.Action, data map[string]any) error {
	var target *int64
	uid := ""
	if c != nil {
		uid = c.Metadata.UID
		if c.Status != nil {
			target = &c.Status.ResourceVersion
		}
	}
	_, err := tx.Exec(ctx, `
		UPDATE submissions SET outcome_unknown = false, accepted_at = now(), target_resource_version = $3,
		       cluster_uid = coalesce(nullif($4, ''), cluster_uid)
		WHERE request_id = $1 AND revision = $2`, r.ID, r.Revision.Number, target, uid)
	if err != nil {
		return err
	}
	if err := settleVersions(ctx, tx, *r, uid); err != nil {
		return err
	}
	if r.Revision.Payload.HardUpdate {
		data["hard_update"] = true // told to PORTAL_NOTIFY_HARD_UPDATE_GROUPS
	}
	if err := appendEvent(ctx, tx, *r, action, data); err != nil {
		return err
	}
	if err := approvals.SetState(ctx, tx, r, approvals.StateApplying); err != nil {
		return err
	}
	return e.jobs.Track(ctx, tx, r.ID, r.Revision.Number)
}

// reconciled records that an earlier attempt whose answer was lost did
// apply the change (live shows it), and moves on to tracking it.
func (e *Executor) reconciled(ctx context.Context, tx pgx.Tx, r *approvals.Request, live *cloudapi.Cluster) error {
	data := map[string]any{"found": "the change was already applied by an earlier attempt whose answer was lost"}
	if live != nil && live.Metadata.UID != "" {
		data["cluster_uid"] = live.Metadata.UID
	}
	// Counted when decided: should the transaction then fail, the job
	// runs again and may count it twice (a signal, not a ledger).
	e.observe(OutcomeReconciled)
	return e.accepted(ctx, tx, r, live, audit.SubmissionReconciled, data)
}

// fail ends r (locked) as failed with reason and the API's field errors,
// and audits it. An approved request passes through submitting, as the
// state machine wants.
func (e *Executor) fail(ctx context.Context, tx pgx.Tx, r *approvals.Request, reason string, fields []cloudapi.ErrorDetail) error {
	return e.end(ctx, tx, r, reason, fields, false)
}

// needsPerson ends r as failed because nobody can tell whether its change
// was applied: it is not sent again until a person has looked (an admin's
// resend).
func (e *Executor) needsPerson(ctx context.Context, tx pgx.Tx, r *approvals.Request, reason string) error {
	return e.end(ctx, tx, r, reason, nil, true)
}

func (e *Executor) end(ctx context.Context, tx pgx.Tx, r *approvals.Request, reason string, fields []cloudapi.ErrorDetail, person bool) error {
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
		UPDATE submissions SET reason = $3, field_errors = $4, needs_person = $5, finished_at = now()
		WHERE request_id = $1 AND revision = $2`, r.ID, r.Revision.Number, reason, raw, person); err != nil {
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
	data := map[string]any{"reason": reason, "field_errors": fields}
	if person {
		data["needs_person"] = true
	}
	return appendEvent(ctx, tx, *r, audit.SubmissionFailed, data)
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
		Actor: actor, Action: action,
		Subject: audit.Subject{Type: audit.SubjectRequest, ID: fmt.Sprint(r.ID)}, Data: data,
	})
	return err
}
