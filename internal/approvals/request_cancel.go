package approvals

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// Cancel withdraws request id: the requester may cancel their own request,
// an admin any request, while it is pending, stale or approved (not once
// its submission has started); an admin also closes a failed request, so
// that it is not sent again. comment is optional. Errors: ErrNotFound,
// ErrForbidden, ErrInvalidTransition.
func (s *Service) Cancel(ctx context.Context, a Actor, id int64, comment string) (Request, error) {
	var r Request
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if r, err = requestLock(ctx, tx, id); err != nil {
			return err
		}
		own := a.UserID == r.Requester.ID
		if !own && !a.Admin {
			return fmt.Errorf("%w: only the requester or an admin may cancel a request", ErrForbidden)
		}
		from := r.State
		if from == StateFailed && !a.Admin {
			return fmt.Errorf("%w: only an admin closes a failed request", ErrForbidden)
		}
		if err := requestSetState(ctx, tx, &r, StateCancelled); err != nil {
			return err
		}
		data := map[string]any{
			"kind": string(r.Kind), "cluster_uid": r.ClusterUID, "cluster_name": r.ClusterName,
			"revision": r.Revision.Number, "previous_state": string(from), "by_admin": !own,
		}
		if c := strings.TrimSpace(comment); c != "" {
			data["comment"] = c
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
