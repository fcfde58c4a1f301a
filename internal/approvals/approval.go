package approvals

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Decision is what an approver decided.
type Decision string

// The decisions.
const (
	DecisionApprove Decision = "approve"
	DecisionReject  Decision = "reject"
)

// Approval is one approver's decision on one revision. It is bound to the
// revision, its diff hash and its base resource version, and counts only
// while all three are the request's current ones.
type Approval struct {
	ID        int64
	RequestID int64
	Revision  int
	Approver  Person
	Decision  Decision
	Comment   string
	DiffHash  Hash
	// HasBase is false for create requests.
	HasBase             bool
	BaseResourceVersion int64
	// Groups are the approver's groups at the moment of the decision.
	Groups    []string
	PolicyID  int64
	CreatedAt time.Time
	// RenewedAt is when the approver renewed the approval after it had
	// expired; zero if they never did.
	RenewedAt time.Time
}

// CountsFrom is when a was given, or last renewed.
func (a Approval) CountsFrom() time.Time {
	if !a.RenewedAt.IsZero() {
		return a.RenewedAt
	}
	return a.CreatedAt
}

// ExpiresAt is when a stops counting under p: its ApprovalMaxAge after
// CountsFrom.
func (a Approval) ExpiresAt(p Policy) time.Time { return a.CountsFrom().Add(p.ApprovalMaxAge) }

// boundTo reports whether a is an approval of revision v exactly.
func (a Approval) boundTo(v Revision) bool {
	return a.Decision == DecisionApprove && a.Revision == v.Number && a.DiffHash == v.DiffHash &&
		a.HasBase == v.HasBase && a.BaseResourceVersion == v.BaseResourceVersion
}

// Approve is the input of an approval.
type Approve struct {
	// Revision is the revision the approver reviewed. If the request has
	// been revised since, the approval is refused (ErrConflict): nobody
	// approves what they did not see.
	Revision int
	// LiveResourceVersion is the cluster's resourceVersion as the caller
	// has just read it from the API. Ignored for create requests.
	LiveResourceVersion int64
	Comment             string
}

// Reject is the input of a rejection.
type Reject struct {
	// Revision is the revision the approver reviewed (see Approve).
	Revision int
	// Comment says why; it is required.
	Comment string
}

// Outcome is the result of an approval.
type Outcome struct {
	Request    Request
	Evaluation Evaluation
	// Completed is true when this approval met the policy: the request is
	// now approved.
	Completed bool
	// Repeated is true when the approver had already approved this
	// revision (a double click): nothing was written.
	Repeated bool
}

// Approve records a's approval of request id. The checks, in order:
//
//   - the request is still at in.Revision (else ErrConflict);
//   - a's approval of this revision already counts: nothing is written and
//     the outcome says Repeated (a double click is not an error); a's
//     approval that expired (older than the policy's ApprovalMaxAge) is
//     renewed instead, after the checks below, and any other decision of
//     a's on this revision is ErrConflict;
//   - it is pending (stale: ErrStale; otherwise ErrInvalidTransition);
//   - four-eyes: a is neither the requester nor the author of any revision
//     (ErrOwnRequest, not overridable);
//   - a may approve under the policy that applies now (Policy.Eligible):
//     a holds the approver role and is in one of its approver groups,
//     judged by a.Approver and a.Groups (ErrNoApproverRole,
//     ErrNotEligible; ErrNoPolicy when none applies);
//   - the cluster has not moved: in.LiveResourceVersion equals the base.
//     If it moved, the request is marked stale (committed, with its audit
//     event) and the error is ErrStale: it needs a rebase. For a create
//     request, the name must still be free in the inventory (ErrConflict).
//
// The approval row, bound to (revision, diff hash, base resource version),
// and the request.approved audit event (with a's groups, the policy and the
// count) commit together. A renewal stamps renewed_at on a's existing row
// (there is one decision per person and revision) and its event says
// "renewed": true. The approval that meets the policy also moves the
// request to approved and runs Config.OnApproved in the same transaction.
// Concurrent approvals of one request are serialised by its row lock, and a
// unique constraint on (request, revision, approver) backs that up.
func (s *Service) Approve(ctx context.Context, a Actor, id int64, in Approve) (Outcome, error) {
	var (
		out   Outcome
		after error // returned after committing (the request went stale)
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		dc, err := lockForDecision(ctx, tx, id, in.Revision, a.UserID)
		if err != nil {
			return err
		}
		r, decisions := dc.request, dc.decisions
		e := dc.evaluation()
		renewing := e.ExpiredFor(a.UserID)
		if mine := decisionBy(decisions, a.UserID); mine != nil && renewing == nil {
			if mine.Decision == DecisionApprove && mine.boundTo(r.Revision) {
				out = Outcome{Request: r, Evaluation: e, Repeated: true}
				return dc.policyErr
			}
			return fmt.Errorf("%w: you already decided on revision %d (%s)", ErrConflict, r.Revision.Number, mine.Decision)
		}
		if r.State == StateStale {
			return fmt.Errorf("%w: rebase the request first", ErrStale)
		}
		if err := checkTransition(r.State, StateApproved); err != nil {
			return err
		}
		policy, err := dc.checkApprover(a)
		if err != nil {
			return err
		}
		if err := s.permitApprove(ctx, tx, a, r, e); err != nil {
			return err
		}
		if r.Kind.OnCluster() && in.LiveResourceVersion != r.Revision.BaseResourceVersion {
			if err := markStale(ctx, tx, &r, in.LiveResourceVersion, a.audit(), a.Origin); err != nil {
				return err
			}
			after = fmt.Errorf("%w: the cluster is at version %d, the request is based on %d",
				ErrStale, in.LiveResourceVersion, r.Revision.BaseResourceVersion)
			return nil
		}
		if !r.Kind.OnCluster() {
			if err := checkNameFree(ctx, tx, r.ClusterName, r.ID); err != nil {
				return err
			}
		}

		var approval Approval
		if renewing != nil {
			approval, err = decisionRenew(ctx, tx, *renewing, a, in.Comment, policy.ID)
			e.Expired = slices.DeleteFunc(e.Expired, func(x Approval) bool { return x.ID == approval.ID })
		} else {
			approval, err = decisionInsert(ctx, tx, r, a, DecisionApprove, in.Comment, policy.ID)
		}
		if err != nil {
			return err
		}
		e.count(approval, approval.CountsFrom())
		out = Outcome{Evaluation: e, Completed: e.Complete()}
		if out.Completed && r.Kind.OnCluster() {
			earlier, err := firstEarlierCollision(ctx, tx, r)
			if err != nil {
				return err
			}
			if earlier != nil {
				return fmt.Errorf("%w: request #%d (%s) also changes %s and is %s; approve this one once #%d is finished and this one is rebased",
					ErrCollision, earlier.Request.ID, earlier.Request.Kind, collisionWhat(*earlier), earlier.Request.State, earlier.Request.ID)
			}
		}
		if out.Completed {
			if err := requestSetState(ctx, tx, &r, StateApproved); err != nil {
				return err
			}
			if s.onApproved != nil {
				if err := s.onApproved(ctx, tx, r); err != nil {
					return fmt.Errorf("on approved: %w", err)
				}
			}
		} else if err := requestTouch(ctx, tx, &r); err != nil {
			return err
		}
		out.Request = r
		data := decisionData(r, approval, policy, e, in.LiveResourceVersion)
		if renewing != nil {
			data["renewed"] = true
		}
		_, err = audit.Append(ctx, tx, audit.Event{
			Actor: a.audit(), Action: audit.RequestApproved, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
			Data:    data,
		})
		return err
	})
	if err == nil {
		err = after
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("approvals: approve request %d: %w", id, err)
	}
	return out, nil
}

func collisionWhat(o Overlap) string {
	if o.WholeCluster {
		return "the whole cluster (a delete)"
	}
	return strings.Join(o.Paths, ", ")
}

// Reject records a's rejection of request id with a required comment,
// which ends the request. The checks are Approve's (revision, state,
// four-eyes, eligibility) without the resource version: a no needs no
// fresh cluster. Errors: ErrInvalid (no comment), ErrConflict,
// ErrInvalidTransition, ErrStale, ErrOwnRequest, ErrNotEligible,
// ErrNoPolicy, ErrNotFound.
func (s *Service) Reject(ctx context.Context, a Actor, id int64, in Reject) (Request, error) {
	if strings.TrimSpace(in.Comment) == "" {
		return Request{}, fmt.Errorf("approvals: reject request %d: %w: a rejection needs a comment", id, ErrInvalid)
	}
	var r Request
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		dc, err := lockForDecision(ctx, tx, id, in.Revision, a.UserID)
		if err != nil {
			return err
		}
		r = dc.request
		if mine := decisionBy(dc.decisions, a.UserID); mine != nil {
			return fmt.Errorf("%w: you already decided on revision %d (%s)", ErrConflict, r.Revision.Number, mine.Decision)
		}
		if r.State == StateStale {
			return fmt.Errorf("%w: rebase the request first", ErrStale)
		}
		if err := checkTransition(r.State, StateRejected); err != nil {
			return err
		}
		policy, err := dc.checkApprover(a)
		if err != nil {
			return err
		}
		rejection, err := decisionInsert(ctx, tx, r, a, DecisionReject, in.Comment, policy.ID)
		if err != nil {
			return err
		}
		if err := requestSetState(ctx, tx, &r, StateRejected); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, audit.Event{
			Actor: a.audit(), Action: audit.RequestRejected, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
			Data:    decisionData(r, rejection, policy, Evaluation{Policy: policy}, 0),
		})
		return err
	})
	if err != nil {
		return Request{}, fmt.Errorf("approvals: reject request %d: %w", id, err)
	}
	return r, nil
}

// decisionContext is what a decision on a request is checked against.
type decisionContext struct {
	request Request
	// decisions are those on the current revision.
	decisions []Approval
	// edited is true when the deciding person made a revision.
	edited bool
	// policy applies to the current revision; policyErr is ErrNoPolicy
	// when none does.
	policy    Policy
	policyErr error
}

// lockForDecision locks request id and reads, in one round trip, what a
// decision by user is checked against. The revision must be the one the
// approver reviewed.
func lockForDecision(ctx context.Context, tx pgx.Tx, id int64, reviewed int, user int64) (decisionContext, error) {
	var locked int64
	if err := tx.QueryRow(ctx, "SELECT id FROM change_requests WHERE id = $1 FOR UPDATE", id).Scan(&locked); err != nil {
		return decisionContext{}, notFound(err)
	}
	var dc decisionContext
	batch := &pgx.Batch{}
	batch.Queue(requestSelect+" WHERE r.id = $1", id).QueryRow(func(row pgx.Row) error {
		var err error
		dc.request, err = scanRequest(row)
		return err
	})
	batch.Queue(decisionSelect+`
		WHERE a.request_id = $1 AND a.revision = (SELECT revision FROM change_requests WHERE id = $1)
		ORDER BY a.id`, id).Query(func(rows pgx.Rows) error {
		var err error
		dc.decisions, err = pgx.CollectRows(rows, scanDecision)
		return err
	})
	batch.Queue("SELECT EXISTS (SELECT 1 FROM request_revisions WHERE request_id = $1 AND author_id = $2)", id, user).
		QueryRow(func(row pgx.Row) error { return row.Scan(&dc.edited) })
	batch.Queue(requestPolicySQL, id).QueryRow(func(row pgx.Row) error {
		var err error
		dc.policy, err = scanPolicy(row)
		if errors.Is(err, pgx.ErrNoRows) {
			dc.policyErr, err = fmt.Errorf("%w for this request", ErrNoPolicy), nil
		}
		return err
	})
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return decisionContext{}, notFound(err)
	}
	if reviewed != dc.request.Revision.Number {
		return decisionContext{}, fmt.Errorf("%w: you reviewed revision %d, the request is now at revision %d; review it again",
			ErrConflict, reviewed, dc.request.Revision.Number)
	}
	return dc, nil
}

// evaluation is the request's Evaluation as of the lock.
func (dc decisionContext) evaluation() Evaluation {
	e := Evaluation{Policy: dc.policy}
	now := time.Now()
	for _, d := range dc.decisions {
		if d.boundTo(dc.request.Revision) {
			e.count(d, now)
		}
	}
	return e
}

// checkApprover applies four-eyes and eligibility (Policy.Eligible) and
// returns the policy that applies.
func (dc decisionContext) checkApprover(a Actor) (Policy, error) {
	switch {
	case a.UserID == dc.request.Requester.ID:
		return Policy{}, fmt.Errorf("%w (you requested it)", ErrOwnRequest)
	case dc.edited:
		return Policy{}, fmt.Errorf("%w (you edited it)", ErrOwnRequest)
	case dc.policyErr != nil:
		return Policy{}, dc.policyErr
	}
	if err := dc.policy.Eligible(a); err != nil {
		return Policy{}, err
	}
	return dc.policy, nil
}

// checkFourEyes refuses the requester and every author of a revision.
func checkFourEyes(ctx context.Context, q Querier, r Request, userID int64) error {
	if userID == r.Requester.ID {
		return fmt.Errorf("%w (you requested it)", ErrOwnRequest)
	}
	var edited bool
	err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM request_revisions WHERE request_id = $1 AND author_id = $2)",
		r.ID, userID).Scan(&edited)
	if err != nil {
		return err
	}
	if edited {
		return fmt.Errorf("%w (you edited it)", ErrOwnRequest)
	}
	return nil
}

// checkNameFree refuses a cluster name that a cluster in the inventory or
// another open create request (not request self) already uses: a
// *NameTakenError.
func checkNameFree(ctx context.Context, q Querier, name string, self int64) error {
	existing, err := inventory.ClusterByName(ctx, q, name)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return &NameTakenError{Name: name, ClusterUID: existing[0].UID}
	}
	var other int64
	err = q.QueryRow(ctx, `
		SELECT id FROM change_requests
		WHERE kind = 'create' AND cluster_name = $1 AND id <> $2
		  AND state IN ('pending', 'stale', 'approved', 'submitting', 'applying')
		ORDER BY id LIMIT 1`, name, self).Scan(&other)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return &NameTakenError{Name: name, RequestID: other}
}

func decisionBy(decisions []Approval, userID int64) *Approval {
	i := slices.IndexFunc(decisions, func(d Approval) bool { return d.Approver.ID == userID })
	if i < 0 {
		return nil
	}
	return &decisions[i]
}

// decisionInsert stores a decision bound to r's current revision. A second
// decision by the same person on the same revision violates
// approvals_once: ErrConflict (the row lock normally prevents reaching it).
func decisionInsert(ctx context.Context, tx pgx.Tx, r Request, a Actor, d Decision, comment string, policyID int64) (Approval, error) {
	v := r.Revision
	approval := Approval{RequestID: r.ID, Revision: v.Number, Approver: Person{ID: a.UserID, Name: a.Name},
		Decision: d, Comment: strings.TrimSpace(comment), DiffHash: v.DiffHash, HasBase: v.HasBase,
		BaseResourceVersion: v.BaseResourceVersion, Groups: nonNil(a.Groups), PolicyID: policyID}
	var base *int64
	if v.HasBase {
		base = &v.BaseResourceVersion
	}
	err := tx.QueryRow(ctx, `
		INSERT INTO approvals (request_id, revision, approver_id, decision, comment, diff_hash,
		                       base_resource_version, approver_groups, policy_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT ON CONSTRAINT approvals_once DO NOTHING
		RETURNING id, created_at`,
		r.ID, v.Number, a.UserID, string(d), approval.Comment, v.DiffHash[:], base, approval.Groups, policyID,
	).Scan(&approval.ID, &approval.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Approval{}, fmt.Errorf("%w: you already decided on revision %d", ErrConflict, v.Number)
	}
	return approval, err
}

// decisionRenew renews approval d, which expired: it counts again from now,
// with a's groups and the policy that applies now, and comment when one is
// given.
func decisionRenew(ctx context.Context, tx pgx.Tx, d Approval, a Actor, comment string, policyID int64) (Approval, error) {
	d.Groups, d.PolicyID = nonNil(a.Groups), policyID
	if c := strings.TrimSpace(comment); c != "" {
		d.Comment = c
	}
	err := tx.QueryRow(ctx, `
		UPDATE approvals SET renewed_at = now(), approver_groups = $2, policy_id = $3, comment = $4
		WHERE id = $1 RETURNING renewed_at`, d.ID, d.Groups, policyID, d.Comment).Scan(&d.RenewedAt)
	return d, err
}

const decisionSelect = `
	SELECT a.id, a.request_id, a.revision, a.approver_id, coalesce(nullif(u.name, ''), u.username),
	       a.decision, a.comment, a.diff_hash, a.base_resource_version, a.approver_groups,
	       coalesce(a.policy_id, 0), a.created_at, a.renewed_at
	FROM approvals a JOIN users u ON u.id = a.approver_id`

// decisionList returns the decisions on one revision of a request (every
// revision when revision is 0), oldest first.
func decisionList(ctx context.Context, q Querier, requestID int64, revision int) ([]Approval, error) {
	rows, err := q.Query(ctx, decisionSelect+`
		WHERE a.request_id = $1 AND ($2 = 0 OR a.revision = $2) ORDER BY a.id`, requestID, revision)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanDecision)
}

func scanDecision(row pgx.CollectableRow) (Approval, error) {
	var (
		a        Approval
		decision string
		hash     []byte
		base     *int64
		renewed  *time.Time
	)
	err := row.Scan(&a.ID, &a.RequestID, &a.Revision, &a.Approver.ID, &a.Approver.Name, &decision, &a.Comment,
		&hash, &base, &a.Groups, &a.PolicyID, &a.CreatedAt, &renewed)
	a.Decision = Decision(decision)
	if renewed != nil {
		a.RenewedAt = *renewed
	}
	copy(a.DiffHash[:], hash)
	if base != nil {
		a.HasBase, a.BaseResourceVersion = true, *base
	}
	return a, err
}

// decisionData is the audit payload of an approval or rejection.
func decisionData(r Request, d Approval, p Policy, e Evaluation, live int64) map[string]any {
	data := map[string]any{
		"kind":            string(r.Kind),
		"cluster_uid":     r.ClusterUID,
		"cluster_name":    r.ClusterName,
		"revision":        r.Revision.Number,
		"diff_hash":       r.Revision.DiffHash.String(),
		"approver_groups": d.Groups,
		"policy":          p.Name,
		"policy_id":       p.ID,
		"state":           string(r.State),
	}
	if r.Revision.HasBase {
		data["base_resource_version"] = r.Revision.BaseResourceVersion
	}
	if d.Comment != "" {
		data["comment"] = d.Comment
	}
	if d.Decision == DecisionApprove {
		data["approvals"] = e.Given()
		data["approvals_needed"] = e.Needed()
		if r.Kind.OnCluster() {
			data["live_resource_version"] = live
		}
	}
	return data
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
