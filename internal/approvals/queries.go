package approvals

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Page selects a page of a list, newest first: at most Limit requests
// (zero means 50) with an id below BeforeID (zero: from the newest). The
// next page starts before the last id of this one.
type Page struct {
	Limit    int
	BeforeID int64
}

func (p Page) limit() int {
	if p.Limit <= 0 {
		return 50
	}
	return min(p.Limit, 500)
}

// ListMine returns the requests userID filed.
func ListMine(ctx context.Context, q Querier, userID int64, p Page) ([]Request, error) {
	return listRequests(ctx, q, "my requests", `
		WHERE r.requester_id = $1 AND ($2::bigint = 0 OR r.id < $2)
		ORDER BY r.id DESC LIMIT $3`, userID, p.BeforeID, p.limit())
}

// ListAwaiting returns the requests a may approve now: pending, not filed
// or edited by a, not yet decided by a at the current revision, and whose
// policy a is eligible under (Policy.Eligible: the approver role and one
// of the policy's groups). Without the approver role the list is empty.
// It asks PostgreSQL for each request's policy (policy_for) and intersects
// its groups with the same approving groups as Eligible, so the queue
// lists what Approve accepts (up to collisions and a moved cluster, which
// Approve finds out).
func ListAwaiting(ctx context.Context, q Querier, a Actor, p Page) ([]Request, error) {
	return listRequests(ctx, q, "requests awaiting approval", `
		WHERE `+awaitingSQL+`
		  AND ($3::bigint = 0 OR r.id < $3)
		ORDER BY r.id DESC LIMIT $4`, a.UserID, a.approvingGroups(), p.BeforeID, p.limit())
}

// ListRecent returns the requests that changed most recently (filed,
// revised, decided or moved on), most recent first; BeforeID is ignored.
func ListRecent(ctx context.Context, q Querier, p Page) ([]Request, error) {
	return listRequests(ctx, q, "recent requests", `
		ORDER BY r.updated_at DESC, r.id DESC LIMIT $1`, p.limit())
}

// ListForCluster returns the requests on cluster uid (create requests
// once their cluster exists).
func ListForCluster(ctx context.Context, q Querier, uid string, p Page) ([]Request, error) {
	return listRequests(ctx, q, "requests for cluster "+uid, `
		WHERE r.cluster_uid = $1 AND ($2::bigint = 0 OR r.id < $2)
		ORDER BY r.id DESC LIMIT $3`, uid, p.BeforeID, p.limit())
}

// ListOpenForCluster returns the requests on cluster uid that are not
// finished (pending, stale, approved, submitting, applying), oldest first:
// the first limit of them, or every one when limit is 0. It reads the
// index of open requests (change_requests_cluster_open), not the
// cluster's finished ones.
func ListOpenForCluster(ctx context.Context, q Querier, uid string, limit int) ([]Request, error) {
	return listRequests(ctx, q, "open requests for cluster "+uid, `
		WHERE r.cluster_uid = $1 AND r.state IN ('pending', 'stale', 'approved', 'submitting', 'applying')
		ORDER BY r.id LIMIT nullif($2::int, 0)`, uid, limit)
}

// PendingCounts returns, for each of uids that has any, how many of its
// requests are not finished; the cluster list shows it. It counts in the
// index of open requests (change_requests_cluster_open): its cost grows
// with the open requests of those clusters, not with their finished ones.
func PendingCounts(ctx context.Context, q Querier, uids []string) (map[string]int, error) {
	rows, err := q.Query(ctx, `
		SELECT cluster_uid, count(*) FROM change_requests
		WHERE cluster_uid = ANY($1) AND state IN ('pending', 'stale', 'approved', 'submitting', 'applying')
		GROUP BY cluster_uid`, uids)
	if err != nil {
		return nil, fmt.Errorf("approvals: pending counts: %w", err)
	}
	counts := map[string]int{}
	var (
		uid string
		n   int
	)
	_, err = pgx.ForEachRow(rows, []any{&uid, &n}, func() error {
		counts[uid] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("approvals: pending counts: %w", err)
	}
	return counts, nil
}

func listRequests(ctx context.Context, q Querier, what, where string, args ...any) ([]Request, error) {
	rows, err := q.Query(ctx, requestSelect+where, args...)
	if err != nil {
		return nil, fmt.Errorf("approvals: %s: %w", what, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Request, error) { return scanRequest(row) })
	if err != nil {
		return nil, fmt.Errorf("approvals: %s: %w", what, err)
	}
	return list, nil
}

// Details is a request with its whole history.
type Details struct {
	Request Request
	// Revisions are every revision, oldest first; the last is current.
	Revisions []Revision
	// Decisions are every approval and rejection on any revision, oldest
	// first; Approval.Revision says which. Only those bound to the current
	// revision count (see Evaluate).
	Decisions []Approval
	// Cancellation says who cancelled the request, when and why; nil
	// unless it is cancelled.
	Cancellation *Cancellation
}

// Authors returns the distinct people who made a revision, requester
// first: none of them may approve.
func (d Details) Authors() []Person {
	var out []Person
	seen := map[int64]bool{}
	for _, v := range d.Revisions {
		if !seen[v.Author.ID] {
			seen[v.Author.ID] = true
			out = append(out, v.Author)
		}
	}
	return out
}

// Detail returns request id with its revisions and decisions. Errors:
// ErrNotFound.
func Detail(ctx context.Context, q Querier, id int64) (Details, error) {
	r, err := Get(ctx, q, id)
	if err != nil {
		return Details{}, err
	}
	d := Details{Request: r}
	rows, err := q.Query(ctx, `SELECT `+revisionColumns+`
		FROM request_revisions v JOIN users au ON au.id = v.author_id
		WHERE v.request_id = $1 ORDER BY v.revision`, id)
	if err != nil {
		return Details{}, fmt.Errorf("approvals: request %d: revisions: %w", id, err)
	}
	d.Revisions, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Revision, error) {
		var dest revisionDest
		if err := row.Scan(dest.targets()...); err != nil {
			return Revision{}, err
		}
		return dest.revision(r.Kind)
	})
	if err != nil {
		return Details{}, fmt.Errorf("approvals: request %d: revisions: %w", id, err)
	}
	if d.Decisions, err = decisionList(ctx, q, id, 0); err != nil {
		return Details{}, fmt.Errorf("approvals: request %d: decisions: %w", id, err)
	}
	if r.State == StateCancelled {
		c, err := CancellationGet(ctx, q, id)
		switch {
		case err == nil:
			d.Cancellation = &c
		case !errors.Is(err, ErrNotFound):
			return Details{}, err
		}
	}
	return d, nil
}

// Counts says how many requests stand where.
type Counts struct {
	// Waiting for a decision or a rebase (pending, stale).
	Waiting int
	// Running: approved and not finished (approved, submitting, applying).
	Running int
	// SucceededToday and FailedToday finished in the last 24 hours.
	SucceededToday, FailedToday int
}

// CountByState counts the requests by where they stand. Waiting and
// Running come from request_state_counts, which a trigger keeps in the
// transaction of every state change (a few rows, whatever the number of
// requests); the two of today read the requests finished in the last 24
// hours in their own index (change_requests_finished).
func CountByState(ctx context.Context, q Querier) (Counts, error) {
	var c Counts
	err := q.QueryRow(ctx, `
		SELECT coalesce((SELECT sum(n) FROM request_state_counts WHERE state IN ('pending', 'stale')), 0),
		       coalesce((SELECT sum(n) FROM request_state_counts WHERE state IN ('approved', 'submitting', 'applying')), 0),
		       (SELECT count(*) FROM change_requests WHERE state = 'succeeded' AND updated_at > now() - interval '24 hours'),
		       (SELECT count(*) FROM change_requests WHERE state = 'failed' AND updated_at > now() - interval '24 hours')`,
	).Scan(&c.Waiting, &c.Running, &c.SucceededToday, &c.FailedToday)
	if err != nil {
		return Counts{}, fmt.Errorf("approvals: count requests: %w", err)
	}
	return c, nil
}
