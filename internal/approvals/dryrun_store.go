package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNoDryRun means the revision has not been dry-run yet.
var ErrNoDryRun = errors.New("approvals: no dry run yet")

// DryRunRetryAfter is how long a dry run that could not be run (cluster
// busy, API unreachable) stands before it is due again.
const DryRunRetryAfter = 30 * time.Second

// DryRunResult is the last dry run of a revision, as stored: what the
// approver's page shows instead of asking Cloud Manager itself.
type DryRunResult struct {
	RequestID int64
	Revision  int
	// ResourceVersion is the cluster's version in the inventory when the
	// dry run was sent (0 for a create: no cluster yet).
	ResourceVersion int64
	// Violations is what Cloud Manager refused; none when it accepted.
	Violations Violations
	// Error says why the dry run could not be run; then Violations is
	// empty and the change was not checked.
	Error     string
	CheckedAt time.Time
}

// DryRunGet returns the stored dry run of revision of request id.
// Errors: ErrNoDryRun.
func DryRunGet(ctx context.Context, q Querier, id int64, revision int) (DryRunResult, error) {
	d := DryRunResult{RequestID: id, Revision: revision}
	var (
		rv         *int64
		violations []byte
	)
	err := q.QueryRow(ctx, `SELECT resource_version, violations, error, checked_at FROM request_dry_runs
		WHERE request_id = $1 AND revision = $2`, id, revision).Scan(&rv, &violations, &d.Error, &d.CheckedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return DryRunResult{}, fmt.Errorf("approvals: dry run of request %d revision %d: %w", id, revision, ErrNoDryRun)
	}
	if err != nil {
		return DryRunResult{}, fmt.Errorf("approvals: dry run of request %d revision %d: %w", id, revision, err)
	}
	if rv != nil {
		d.ResourceVersion = *rv
	}
	if err := json.Unmarshal(violations, &d.Violations); err != nil {
		return DryRunResult{}, fmt.Errorf("approvals: dry run of request %d revision %d: %w", id, revision, err)
	}
	return d, nil
}

// DryRunGrace is how long a new revision waits for the dry run queued
// with it (Config.OnRevision) before DryRunsDue takes it for lost.
const DryRunGrace = 10 * time.Second

// DryRunsDue lists, oldest first, at most limit pending requests whose
// current revision has a spec to check and needs a dry run: none stored
// yet and older than DryRunGrace, one run against another resource
// version than the inventory's copy of the cluster now has, or one that
// could not be run and is older than DryRunRetryAfter.
func DryRunsDue(ctx context.Context, q Querier, limit int) ([]int64, error) {
	rows, err := q.Query(ctx, `
		SELECT r.id FROM change_requests r
		JOIN request_revisions v ON v.request_id = r.id AND v.revision = r.revision
		LEFT JOIN request_dry_runs d ON d.request_id = r.id AND d.revision = r.revision
		LEFT JOIN clusters c ON c.uid = r.cluster_uid
		WHERE r.state = 'pending' AND v.proposed_spec IS NOT NULL
		  AND CASE WHEN d.request_id IS NULL THEN v.created_at < now() - $3::interval
		           ELSE d.resource_version IS DISTINCT FROM c.resource_version
		                OR (d.error <> '' AND d.checked_at < now() - $2::interval) END
		ORDER BY r.id LIMIT $1`, limit, DryRunRetryAfter, DryRunGrace)
	if err != nil {
		return nil, fmt.Errorf("approvals: dry runs due: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("approvals: dry runs due: %w", err)
	}
	return ids, nil
}

// RunDryRun sends the dry run of request id's current revision to api
// (DryRun) and stores the answer, also when the dry run could not be
// run (its error is stored, to be tried again after DryRunRetryAfter),
// and announces the request (a notification, as when it changes) so that
// pages showing it redraw.
// A request without a spec to check (delete, restart) is not sent. The
// resource version stored is the inventory's for the cluster at the
// start. Errors: the database's, ErrNotFound.
func RunDryRun(ctx context.Context, db *pgxpool.Pool, api DryRunner, id int64) (DryRunResult, error) {
	r, err := Get(ctx, db, id)
	if err != nil {
		return DryRunResult{}, err
	}
	d := DryRunResult{RequestID: id, Revision: r.Revision.Number}
	if r.Revision.ProposedSpec == nil {
		return d, nil
	}
	var rv *int64
	if r.ClusterUID != "" {
		err := db.QueryRow(ctx, `SELECT resource_version FROM clusters WHERE uid = $1`, r.ClusterUID).Scan(&rv)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return DryRunResult{}, fmt.Errorf("approvals: dry run of request %d: %w", id, err)
		}
	}
	vs, runErr := DryRun(ctx, api, ProposalOf(r))
	if runErr != nil {
		if ctx.Err() != nil {
			return DryRunResult{}, ctx.Err()
		}
		d.Error = runErr.Error()
		vs = nil
	}
	if vs == nil {
		vs = Violations{}
	}
	encoded, err := json.Marshal(vs)
	if err != nil {
		return DryRunResult{}, fmt.Errorf("approvals: dry run of request %d: %w", id, err)
	}
	// Stored and announced together: the request's pages redraw (from
	// PostgreSQL) with the answer.
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO request_dry_runs AS d (request_id, revision, resource_version, violations, error, checked_at)
			VALUES ($1, $2, $3, $4, $5, now())
			ON CONFLICT (request_id, revision) DO UPDATE SET resource_version = EXCLUDED.resource_version,
				violations = EXCLUDED.violations, error = EXCLUDED.error, checked_at = EXCLUDED.checked_at
			RETURNING checked_at`, id, r.Revision.Number, rv, encoded, d.Error).Scan(&d.CheckedAt)
		if err != nil {
			return err
		}
		now, err := Get(ctx, tx, id)
		if err != nil {
			return err
		}
		return notifyRequest(ctx, tx, now)
	})
	if err != nil {
		return DryRunResult{}, fmt.Errorf("approvals: record the dry run of request %d: %w", id, err)
	}
	if rv != nil {
		d.ResourceVersion = *rv
	}
	d.Violations = vs
	return d, nil
}

// revised runs the OnRevision hook for r's new revision.
func (s *Service) revised(ctx context.Context, tx pgx.Tx, r Request) error {
	if s.onRevision == nil {
		return nil
	}
	if err := s.onRevision(ctx, tx, r); err != nil {
		return fmt.Errorf("on revision: %w", err)
	}
	return nil
}
