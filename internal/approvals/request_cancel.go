package approvals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// ErrCancelNeedsReason: an admin who cancels someone else's request must
// say why; the requester reads it on the request page.
var ErrCancelNeedsReason = fmt.Errorf("%w: say why you cancel someone else's request", ErrInvalid)

// Cancellation is who withdrew a request, when and why.
type Cancellation struct {
	By Person
	// ByAdmin: an admin withdrew someone else's request.
	ByAdmin bool
	// Reason is empty when none was given.
	Reason string
	// PreviousState is the state the request left.
	PreviousState State
	At            time.Time
}

// Cancel withdraws request id: the requester may cancel their own request,
// an admin any request, while it is pending, stale or approved (not once
// its submission has started); an admin also closes a failed request, so
// that it is not sent again. reason is optional for the requester and
// required of an admin cancelling someone else's request; it is stored
// with the cancellation (CancellationGet) and in the audit event. Checks,
// in order: the request exists (ErrNotFound), the actor may cancel it
// (ErrForbidden), an admin acting for someone else gave a reason
// (ErrCancelNeedsReason), the state allows it (ErrInvalidTransition).
func (s *Service) Cancel(ctx context.Context, a Actor, id int64, reason string) (Request, error) {
	reason = strings.TrimSpace(reason)
	var r Request
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if r, err = requestLock(ctx, tx, id); err != nil {
			return err
		}
		if err := CheckCancel(r, a, reason); err != nil {
			return err
		}
		own, from := a.UserID == r.Requester.ID, r.State
		if err := requestSetState(ctx, tx, &r, StateCancelled); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO request_cancellations (request_id, cancelled_by, by_admin, reason, previous_state)
			VALUES ($1, $2, $3, $4, $5)`, r.ID, a.UserID, !own, reason, string(from)); err != nil {
			return fmt.Errorf("record the cancellation: %w", err)
		}
		data := map[string]any{
			"kind": string(r.Kind), "cluster_uid": r.ClusterUID, "cluster_name": r.ClusterName,
			"revision": r.Revision.Number, "previous_state": string(from), "by_admin": !own,
		}
		if reason != "" {
			data["comment"] = reason
		}
		_, err = audit.Append(ctx, tx, audit.Event{
			Actor: a.audit(), Action: audit.RequestCancelled, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
			Data:    data,
		})
		return err
	})
	if err != nil {
		return Request{}, fmt.Errorf("approvals: cancel request %d: %w", id, err)
	}
	return r, nil
}

// CheckCancel reports whether a may cancel r giving reason, as Cancel
// decides, without changing anything (a form checks it before asking for
// more). Errors, in order: ErrForbidden, ErrCancelNeedsReason,
// ErrInvalidTransition.
func CheckCancel(r Request, a Actor, reason string) error {
	own := a.UserID == r.Requester.ID
	if !own && !a.Admin {
		return fmt.Errorf("%w: only the requester or an admin may cancel a request", ErrForbidden)
	}
	if r.State == StateFailed && !a.Admin {
		return fmt.Errorf("%w: only an admin closes a failed request", ErrForbidden)
	}
	if !own && strings.TrimSpace(reason) == "" {
		return ErrCancelNeedsReason
	}
	return checkTransition(r.State, StateCancelled)
}

// CancellationGet returns who cancelled request id, when and why.
// Errors: ErrNotFound when the request was not cancelled.
func CancellationGet(ctx context.Context, q Querier, id int64) (Cancellation, error) {
	var (
		c    Cancellation
		from string
	)
	err := q.QueryRow(ctx, `
		SELECT c.cancelled_by, coalesce(nullif(u.name, ''), u.username), c.by_admin, c.reason, c.previous_state, c.created_at
		FROM request_cancellations c JOIN users u ON u.id = c.cancelled_by
		WHERE c.request_id = $1`, id).Scan(&c.By.ID, &c.By.Name, &c.ByAdmin, &c.Reason, &from, &c.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return Cancellation{}, fmt.Errorf("approvals: cancellation of request %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Cancellation{}, fmt.Errorf("approvals: cancellation of request %d: %w", id, err)
	}
	c.PreviousState = State(from)
	return c, nil
}
