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
)

// Emergency is the break-glass record of a request: why it bypassed
// approvals, and its review after the fact.
type Emergency struct {
	RequestID     int64
	ClusterName   string
	Kind          Kind
	Requester     Person
	Justification string
	FiledAt       time.Time
	ReviewDueAt   time.Time
	// ReviewedBy is nil until an approver reviews it.
	ReviewedBy    *Person
	ReviewedAt    time.Time
	ReviewComment string
}

// Reviewed reports whether an approver reviewed it.
func (e Emergency) Reviewed() bool { return e.ReviewedBy != nil }

// Overdue reports whether its review is late at now.
func (e Emergency) Overdue(now time.Time) bool { return !e.Reviewed() && now.After(e.ReviewDueAt) }

// EmergencyConfig lets members of Groups file emergencies, each to be
// reviewed within ReviewWithin (PORTAL_EMERGENCY_GROUPS,
// PORTAL_EMERGENCY_REVIEW_WITHIN). No groups: nobody may.
type EmergencyConfig struct {
	Groups       []string
	ReviewWithin time.Duration
}

// MayFileEmergency reports whether a may file an emergency change.
func (s *Service) MayFileEmergency(a Actor) bool {
	return slices.ContainsFunc(a.Groups, func(g string) bool { return slices.Contains(s.emergency.Groups, g) })
}

// ErrNotEmergencyMember: the actor is in no emergency group.
var ErrNotEmergencyMember = fmt.Errorf("%w: only members of an emergency group (PORTAL_EMERGENCY_GROUPS) may file an emergency change", ErrForbidden)

// CreateEmergency files in as an emergency (break-glass) change: a must be
// in an emergency group and give a justification. It is approved at once,
// without approvals, and its submission queued in the same transaction
// (Config.OnApproved); change windows and freezes do not hold it. The
// audit log has request.created, then request.emergency with the
// justification and when the review is due. Errors: Create's, and
// ErrNotEmergencyMember, ErrInvalid (no justification; a create request).
func (s *Service) CreateEmergency(ctx context.Context, a Actor, in NewRequest, justification string) (Request, error) {
	justification = strings.TrimSpace(justification)
	switch {
	case !s.MayFileEmergency(a):
		return Request{}, fmt.Errorf("approvals: file emergency: %w", ErrNotEmergencyMember)
	case justification == "":
		return Request{}, fmt.Errorf("approvals: file emergency: %w: an emergency change needs a justification", ErrInvalid)
	case !in.Kind.OnCluster():
		return Request{}, fmt.Errorf("approvals: file emergency: %w: an emergency change acts on an existing cluster", ErrInvalid)
	}
	if in.Reason == "" {
		in.Reason = justification
	}
	var r Request
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := s.prepare(ctx, tx, proposalOf(in), 0)
		if err != nil {
			return err
		}
		if r, err = requestInsert(ctx, tx, a, d); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, audit.Event{
			Actor: a.audit(), Action: audit.RequestCreated, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
			Data:    emergencyData(revisionData(r, nil)),
		}); err != nil {
			return err
		}
		within := s.emergency.ReviewWithin
		if within <= 0 {
			within = 24 * time.Hour
		}
		var due time.Time
		if err := tx.QueryRow(ctx, `
			INSERT INTO request_emergencies (request_id, justification, review_due_at)
			VALUES ($1, $2, now() + $3::interval) RETURNING review_due_at`,
			r.ID, justification, within.String()).Scan(&due); err != nil {
			return err
		}
		if err := requestSetState(ctx, tx, &r, StateApproved); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, audit.Event{
			Actor: a.audit(), Action: audit.RequestEmergency, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
			Data: map[string]any{"emergency": true, "justification": justification, "review_due_at": due.UTC().Format(time.RFC3339),
				"groups": a.Groups, "cluster_name": r.ClusterName, "kind": string(r.Kind), "revision": r.Revision.Number},
		}); err != nil {
			return err
		}
		if s.onApproved != nil {
			if err := s.onApproved(ctx, tx, r); err != nil {
				return fmt.Errorf("on approved: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Request{}, fmt.Errorf("approvals: file emergency %s request: %w", in.Kind, err)
	}
	return r, nil
}

// ReviewEmergency records a's review of emergency request id after the
// fact: a holds the approver role and is not its requester (four eyes).
// Errors: ErrNotFound (no such emergency), ErrNoApproverRole,
// ErrOwnRequest, ErrConflict (already reviewed).
func (s *Service) ReviewEmergency(ctx context.Context, a Actor, id int64, comment string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := EmergencyGet(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case !a.Approver:
			return ErrNoApproverRole
		case e.Requester.ID == a.UserID:
			return fmt.Errorf("%w (you filed it)", ErrOwnRequest)
		case e.Reviewed():
			return fmt.Errorf("%w: %s already reviewed it", ErrConflict, e.ReviewedBy.Name)
		}
		tag, err := tx.Exec(ctx, `UPDATE request_emergencies SET reviewed_by = $2, reviewed_at = now(), review_comment = $3
			WHERE request_id = $1 AND reviewed_at IS NULL`, id, a.UserID, strings.TrimSpace(comment))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: someone reviewed it meanwhile", ErrConflict)
		}
		_, err = audit.Append(ctx, tx, audit.Event{
			Actor: a.audit(), Action: audit.RequestEmergencyReviewed, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(id)},
			Data:    map[string]any{"comment": strings.TrimSpace(comment), "overdue": e.Overdue(time.Now()), "groups": a.Groups},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("approvals: review emergency %d: %w", id, err)
	}
	return nil
}

const emergencySelect = `
	SELECT e.request_id, r.cluster_name, r.kind, u.id, COALESCE(NULLIF(u.name, ''), u.username), e.justification,
	       e.filed_at, e.review_due_at, rv.id, COALESCE(NULLIF(rv.name, ''), rv.username), e.reviewed_at, e.review_comment
	FROM request_emergencies e
	JOIN change_requests r ON r.id = e.request_id
	JOIN users u ON u.id = r.requester_id
	LEFT JOIN users rv ON rv.id = e.reviewed_by`

func scanEmergency(row pgx.Row) (Emergency, error) {
	var (
		e          Emergency
		kind       string
		rid        *int64
		rname      *string
		reviewedAt *time.Time
	)
	err := row.Scan(&e.RequestID, &e.ClusterName, &kind, &e.Requester.ID, &e.Requester.Name, &e.Justification,
		&e.FiledAt, &e.ReviewDueAt, &rid, &rname, &reviewedAt, &e.ReviewComment)
	e.Kind = Kind(kind)
	if rid != nil {
		e.ReviewedBy = &Person{ID: *rid, Name: *rname}
	}
	if reviewedAt != nil {
		e.ReviewedAt = *reviewedAt
	}
	return e, err
}

// EmergencyGet returns the emergency record of request id. Errors:
// ErrNotFound (not an emergency).
func EmergencyGet(ctx context.Context, q Querier, id int64) (Emergency, error) {
	e, err := scanEmergency(q.QueryRow(ctx, emergencySelect+" WHERE e.request_id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Emergency{}, fmt.Errorf("approvals: emergency %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Emergency{}, fmt.Errorf("approvals: emergency %d: %w", id, err)
	}
	return e, nil
}

// IsEmergency reports whether request id was filed as an emergency.
func IsEmergency(ctx context.Context, q Querier, id int64) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM request_emergencies WHERE request_id = $1)", id).Scan(&ok)
	return ok, err
}

// EmergencyListUnreviewed returns the emergencies awaiting review, the
// one due first first.
func EmergencyListUnreviewed(ctx context.Context, q Querier) ([]Emergency, error) {
	rows, err := q.Query(ctx, emergencySelect+" WHERE e.reviewed_at IS NULL ORDER BY e.review_due_at, e.request_id")
	if err != nil {
		return nil, fmt.Errorf("approvals: unreviewed emergencies: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Emergency, error) { return scanEmergency(row) })
	if err != nil {
		return nil, fmt.Errorf("approvals: unreviewed emergencies: %w", err)
	}
	return list, nil
}

// emergencyData marks the filing of an emergency change: nobody is asked
// to approve it (internal/notify tells of the emergency instead).
func emergencyData(data map[string]any) map[string]any {
	data["emergency"] = true
	return data
}
