package approvals

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/sqltext"
)

// Filter selects change requests for the requests page. Every field at its
// zero value selects everything; set fields must all match.
type Filter struct {
	// RequesterID keeps the requests this person filed ("mine").
	RequesterID int64
	// AwaitingFor keeps the requests this person may approve now and has
	// not decided on: the rule of ListAwaiting (and so of Approve), which
	// is empty for someone without the approver role.
	AwaitingFor *Actor
	// ClusterName keeps the requests on clusters of this name, compared
	// without regard to case (names are not unique: all of them).
	ClusterName string
	// States keeps the requests in any of these states.
	States []State
	// Kind keeps the requests of this kind.
	Kind Kind
	// Person keeps the requests whose requester's name or username
	// contains it, without regard to case.
	Person string
	// FiledFrom and FiledBefore keep the requests filed at or after
	// FiledFrom and before FiledBefore.
	FiledFrom, FiledBefore time.Time
}

// IsZero reports whether f selects every request.
func (f Filter) IsZero() bool {
	return f.RequesterID == 0 && f.AwaitingFor == nil && f.ClusterName == "" && len(f.States) == 0 &&
		f.Kind == "" && f.Person == "" && f.FiledFrom.IsZero() && f.FiledBefore.IsZero()
}

// Cursor is a place in the list of requests, which runs newest first by
// the time they were filed, then by id: the page after it holds the older
// requests, or with Newer the newer ones. The zero Cursor asks for the
// newest page.
type Cursor struct {
	FiledAt time.Time
	ID      int64
	Newer   bool
}

// IsZero reports whether c asks for the newest page.
func (c Cursor) IsZero() bool { return c.ID == 0 }

// Key is the cursor's place as text for a URL, without its direction:
// the filing time in microseconds since the epoch (PostgreSQL's precision,
// so the place is exact) and the id, "1764782196123456-42".
func (c Cursor) Key() string {
	return strconv.FormatInt(c.FiledAt.UnixMicro(), 10) + "-" + strconv.FormatInt(c.ID, 10)
}

// ParseCursor reads a Key; newer gives the direction. Errors: ErrInvalid.
func ParseCursor(key string, newer bool) (Cursor, error) {
	at, id, ok := strings.Cut(key, "-")
	micros, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil || micros < 0 || n <= 0 {
		return Cursor{}, fmt.Errorf("%w: cursor %q", ErrInvalid, key)
	}
	return Cursor{FiledAt: time.UnixMicro(micros).UTC(), ID: n, Newer: newer}, nil
}

// Listed is a request as the requests page lists it: with how far its
// approval has come.
type Listed struct {
	Request
	// HasPolicy is false when no approval policy matches the request.
	HasPolicy bool
	// Needed is how many approvals its policy asks for, Given how many
	// count (bound to the current revision, as Evaluate counts them).
	Needed, Given int
}

// Listing is one page of requests, newest first.
type Listing struct {
	Requests []Listed
	// Newer and Older are the cursors of the neighbouring pages, nil when
	// there is no request that way.
	Newer, Older *Cursor
}

// maxListLimit bounds a page of List.
const maxListLimit = 200

// List returns up to limit requests matching f on the page at (newest
// first; limit is 1 to 200, 50 when zero), and the cursors of the pages
// before and after it. Pages are keyset pages: a request filed while
// someone pages neither repeats nor hides another.
func List(ctx context.Context, q Querier, f Filter, at Cursor, limit int) (Listing, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, maxListLimit)
	args := append(f.args(), nil, nil, limit+1)
	sql := " WHERE " + listFilterSQL
	switch {
	case at.IsZero():
		sql += listOlderSQL
	case at.Newer:
		args[listCursorArg], args[listCursorArg+1] = at.FiledAt, at.ID
		sql += listNewerSQL
	default:
		args[listCursorArg], args[listCursorArg+1] = at.FiledAt, at.ID
		sql += listOlderSQL
	}
	list, err := listRequests(ctx, q, "list requests", sql, args...)
	if err != nil {
		return Listing{}, err
	}
	var l Listing
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	if at.Newer {
		// Read oldest first from the cursor; the page shows newest first.
		for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
			list[i], list[j] = list[j], list[i]
		}
	}
	// Besides the page read past the cursor, the way back holds at least
	// the request the cursor names.
	hasNewer := at.Newer && more || !at.IsZero() && !at.Newer
	hasOlder := !at.Newer && more || at.Newer
	if len(list) > 0 {
		first, last := list[0], list[len(list)-1]
		if hasNewer {
			l.Newer = &Cursor{FiledAt: first.CreatedAt, ID: first.ID, Newer: true}
		}
		if hasOlder {
			l.Older = &Cursor{FiledAt: last.CreatedAt, ID: last.ID}
		}
	}
	if l.Requests, err = withProgress(ctx, q, list); err != nil {
		return Listing{}, err
	}
	return l, nil
}

// Count returns how many requests match f, counting up to most: past it
// the answer is most+1 (an index walk of the whole table is not worth a
// number nobody reads). A filter on states alone (or none) is answered
// from the counts the state changes keep (request_state_counts), in a few
// rows however many requests there are.
func Count(ctx context.Context, q Querier, f Filter, most int) (int, error) {
	var n int
	rest := f
	rest.States = nil
	if rest.IsZero() {
		states := make([]string, 0, len(f.States))
		for _, st := range f.States {
			states = append(states, string(st))
		}
		err := q.QueryRow(ctx, `SELECT coalesce(sum(n), 0) FROM request_state_counts
			WHERE cardinality($1::text[]) = 0 OR state = ANY ($1)`, states).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("approvals: count requests: %w", err)
		}
		return min(n, most+1), nil
	}
	err := q.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM change_requests r
		JOIN users ru ON ru.id = r.requester_id
		JOIN request_revisions v ON v.request_id = r.id AND v.revision = r.revision
		WHERE `+listFilterSQL+` LIMIT $11) matching`, append(f.args(), most+1)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("approvals: count requests: %w", err)
	}
	return n, nil
}

// clusterNamesShown bounds ClusterNames.
const clusterNamesShown = 1000

// ClusterNames returns the names of the clusters requests were filed for,
// in alphabetical order, up to 1,000 (for suggestions in a filter; past
// 1,000 names, the first 1,000 in the database's order). It skips from one
// name to the next in their index, reading one entry per name, not every
// request.
func ClusterNames(ctx context.Context, q Querier) ([]string, error) {
	return names(ctx, q, "cluster names", `
		WITH RECURSIVE n (name, i) AS (
			(SELECT cluster_name, 1 FROM change_requests ORDER BY cluster_name LIMIT 1)
			UNION ALL
			SELECT (SELECT r.cluster_name FROM change_requests r WHERE r.cluster_name > n.name
			        ORDER BY r.cluster_name LIMIT 1), n.i + 1
			FROM n WHERE n.name IS NOT NULL AND n.i < $1
		)
		SELECT name FROM n WHERE name IS NOT NULL ORDER BY lower(name), name`, clusterNamesShown)
}

// RequesterNames returns the names of the people who filed requests, in
// alphabetical order, up to 1,000 (for suggestions in a filter).
func RequesterNames(ctx context.Context, q Querier) ([]string, error) {
	return names(ctx, q, "requester names", `
		SELECT name FROM (
			SELECT DISTINCT coalesce(nullif(u.name, ''), u.username) AS name FROM users u
			WHERE EXISTS (SELECT 1 FROM change_requests r WHERE r.requester_id = u.id)) n
		ORDER BY lower(name), name LIMIT 1000`)
}

func names(ctx context.Context, q Querier, what, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("approvals: %s: %w", what, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("approvals: %s: %w", what, err)
	}
	return list, nil
}

// awaitingSQL is the rule of "may approve it now and has not decided (or
// whose approval expired, ApprovalMaxAge, and may be renewed)": $1
// is the person's user id, $2 their approving groups (Actor.approvingGroups,
// the groups of Policy.Eligible). It reads r (change_requests) and v (its
// current revision). The request's team (rt) is request_team's: for a
// request on a cluster, read from pendingTeamsSQL; OFFSET 0 keeps it a row
// of its own, so it is worked out once per request, not once per use.
const awaitingSQL = `r.state = 'pending' AND r.requester_id <> $1
		  AND NOT EXISTS (SELECT 1 FROM request_revisions e WHERE e.request_id = r.id AND e.author_id = $1)
		  AND EXISTS (SELECT 1 FROM (SELECT CASE WHEN r.cluster_uid IS NULL
		                                     THEN (SELECT team FROM request_team(NULL, r.cluster_name, v.proposed_spec))
		                                     ELSE COALESCE((` + pendingTeamsSQL + `) ->> r.cluster_uid, '') END AS team OFFSET 0) rt
		              CROSS JOIN LATERAL policy_for(v.environments, r.kind, v.risks, rt.team) p
		              WHERE p.approver_groups && $2::text[]
		                AND NOT EXISTS (SELECT 1 FROM approvals d
		                                WHERE d.request_id = r.id AND d.revision = r.revision AND d.approver_id = $1
		                                  AND NOT (d.decision = 'approve'
		                                           AND coalesce(d.renewed_at, d.created_at) + p.approval_max_age < now()))
		                AND ` + teamApprovalSQL + `)`

// pendingTeamsSQL is the team of each cluster with a pending request, as
// a JSON object from uid to team (request_team). It depends on nothing of
// the row, so PostgreSQL computes it once for the statement: the queue
// works out each cluster's owner once, not once per request.
const pendingTeamsSQL = `SELECT jsonb_object_agg(c.uid, ct.team) FROM clusters c
		CROSS JOIN LATERAL request_team(c.uid, c.name, NULL) ct
		WHERE c.uid IN (SELECT o.cluster_uid FROM change_requests o WHERE o.state = 'pending')`

// teamApprovalSQL is the approval rule of the permission function
// (governance.Teams.Allowed, as governance.Checker.MayApprove applies it)
// in SQL, for the approvals queue: a request on a cluster of a team
// (rt.team, "" when unowned or when no team is defined) may be approved by
// the team's approver and lead groups; when its policy p wants a team lead
// and no lead's approval counts yet, the approval that would complete it
// must come from a lead. Creates are not checked, as in
// Service.MayApprove. $2 are the person's approving groups; r and v as in
// awaitingSQL.
const teamApprovalSQL = `(r.kind = 'create' OR rt.team = ''
		  OR EXISTS (SELECT 1 FROM teams t WHERE t.name = rt.team
		             AND (t.approver_groups && $2::text[] OR t.lead_groups && $2::text[])
		             AND (t.lead_groups && $2::text[] OR NOT p.team_lead_required
		                  OR EXISTS (SELECT 1 FROM approvals d WHERE ` + countingApprovalSQL + `
		                             AND d.approver_groups && t.lead_groups)
		                  OR p.approvals_required - (SELECT count(*) FROM approvals d WHERE ` + countingApprovalSQL + `) > 1)))`

// countingApprovalSQL says that d (approvals) is an approval of request r
// that counts: of its current revision v, its diff hash and its base
// resource version, younger than its policy p's age (as Evaluate counts
// them).
const countingApprovalSQL = `d.request_id = r.id AND d.revision = r.revision AND d.decision = 'approve'
		  AND d.diff_hash = v.diff_hash AND d.base_resource_version IS NOT DISTINCT FROM v.base_resource_version
		  AND coalesce(d.renewed_at, d.created_at) + p.approval_max_age >= now()`

// listFilterSQL is Filter as a condition on r (change_requests), ru (the
// requester) and v (the current revision), with the parameters of
// Filter.args: an empty parameter matches everything.
const listFilterSQL = `(NOT $3::boolean OR (` + awaitingSQL + `))
		  AND ($4::bigint = 0 OR r.requester_id = $4)
		  AND ($5::text = '' OR lower(r.cluster_name) = lower($5))
		  AND (cardinality($6::text[]) = 0 OR r.state = ANY ($6))
		  AND ($7::text = '' OR r.kind = $7)
		  AND ($8::text = '' OR ru.name ILIKE $8 OR ru.username ILIKE $8)
		  AND ($9::timestamptz IS NULL OR r.created_at >= $9)
		  AND ($10::timestamptz IS NULL OR r.created_at < $10)`

// listCursorArg is the index in List's arguments of the cursor's time
// ($11); its id follows ($12), then the limit ($13).
const listCursorArg = 10

const (
	listOlderSQL = `
		  AND ($11::timestamptz IS NULL OR (r.created_at, r.id) < ($11, $12::bigint))
		ORDER BY r.created_at DESC, r.id DESC LIMIT $13`
	listNewerSQL = `
		  AND (r.created_at, r.id) > ($11, $12::bigint)
		ORDER BY r.created_at, r.id LIMIT $13`
)

// args are the parameters $1 to $10 of listFilterSQL.
func (f Filter) args() []any {
	var (
		awaiting bool
		userID   int64
		groups   = []string{}
		states   = make([]string, 0, len(f.States))
		pattern  string
	)
	if f.AwaitingFor != nil {
		awaiting, userID, groups = true, f.AwaitingFor.UserID, f.AwaitingFor.approvingGroups()
	}
	for _, s := range f.States {
		states = append(states, string(s))
	}
	if p := strings.TrimSpace(f.Person); p != "" {
		pattern = sqltext.Contains(p)
	}
	return []any{userID, groups, awaiting, f.RequesterID, strings.TrimSpace(f.ClusterName), states,
		string(f.Kind), pattern, timeOrNil(f.FiledFrom), timeOrNil(f.FiledBefore)}
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// withProgress adds to each request how many approvals its policy needs
// and how many count, in one query for the page. An approval counts as
// Evaluate counts it: an approval of the current revision with its diff
// hash and base resource version, younger than the policy's age.
func withProgress(ctx context.Context, q Querier, list []Request) ([]Listed, error) {
	out := make([]Listed, len(list))
	if len(list) == 0 {
		return out, nil
	}
	ids := make([]int64, len(list))
	at := make(map[int64]int, len(list))
	for i, r := range list {
		ids[i], at[r.ID] = r.ID, i
		out[i].Request = r
	}
	rows, err := q.Query(ctx, `
		SELECT r.id, p.approvals_required,
		       (SELECT count(*) FROM approvals d WHERE `+countingApprovalSQL+`)
		FROM change_requests r
		JOIN request_revisions v ON v.request_id = r.id AND v.revision = r.revision
		LEFT JOIN LATERAL `+requestPolicyForSQL+` p ON true
		WHERE r.id = ANY ($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("approvals: approval progress: %w", err)
	}
	var (
		id     int64
		needed *int32
		given  int
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &needed, &given}, func() error {
		i, ok := at[id]
		if !ok {
			return errors.New("a request that was not asked for")
		}
		out[i].Given = given
		if needed != nil {
			out[i].HasPolicy, out[i].Needed = true, int(*needed)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("approvals: approval progress: %w", err)
	}
	return out, nil
}
