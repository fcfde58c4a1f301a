package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/sqltext"
)

// Querier runs queries: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrNotFound means no event matched.
var ErrNotFound = errors.New("audit: not found")

// Filter selects events. Every field set narrows the selection; the zero
// Filter selects everything.
type Filter struct {
	// Actors keeps events by any of these actors: user ids, or system
	// components ("worker").
	Actors []string `json:"actors,omitempty"`
	// Actions keeps events with any of these actions.
	Actions []Action `json:"actions,omitempty"`
	// SubjectType and SubjectID keep events about this subject; either may
	// be set alone.
	SubjectType SubjectType `json:"subject_type,omitempty"`
	SubjectID   string      `json:"subject_id,omitempty"`
	// Cluster keeps everything that happened to the cluster of this name,
	// ignoring case: the cluster's own events (drift) and the events of
	// every request on it (filed, approved, cancelled, submitted…). All of
	// them name the cluster in data.cluster_name.
	Cluster string `json:"cluster,omitempty"`
	// Request keeps the events of one change request, its submission's
	// included (they are recorded with the request as their subject).
	Request int64 `json:"request,omitempty"`
	// From (inclusive) and To (exclusive) bound the time; zero is open.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Text keeps events whose payload contains it, ignoring case.
	Text string `json:"text,omitempty"`
}

// IsZero reports whether the filter selects everything.
func (f Filter) IsZero() bool {
	return len(f.Actors) == 0 && len(f.Actions) == 0 && f.SubjectType == "" && f.SubjectID == "" &&
		f.Cluster == "" && f.Request == 0 && f.From.IsZero() && f.To.IsZero() && f.Text == ""
}

// pendingBaseSQL is PendingBase as an SQL literal.
const pendingBaseSQL = "4611686018427387904"

// where appends the filter's conditions and their arguments. Times become
// seq bounds as well (time never goes backwards along seq), so a time range
// is a range scan of the primary key, or of any index ending in seq.
func (f Filter) where(sql *strings.Builder, args []any) []any {
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	switch len(f.Actors) {
	case 0:
	case 1:
		sql.WriteString(" AND actor_id = " + arg(f.Actors[0]))
	default:
		sql.WriteString(" AND actor_id = ANY(" + arg(f.Actors) + "::text[])")
	}
	switch len(f.Actions) {
	case 0:
	case 1:
		sql.WriteString(" AND action = " + arg(string(f.Actions[0])))
	default:
		names := make([]string, len(f.Actions))
		for i, a := range f.Actions {
			names[i] = string(a)
		}
		sql.WriteString(" AND action = ANY(" + arg(names) + "::text[])")
	}
	if f.SubjectType != "" {
		sql.WriteString(" AND subject_type = " + arg(string(f.SubjectType)))
	}
	if f.SubjectID != "" {
		sql.WriteString(" AND subject_id = " + arg(f.SubjectID))
	}
	if f.Cluster != "" {
		// Spelled as audit_log_cluster_seq is, predicate included.
		sql.WriteString(" AND data ? 'cluster_name' AND lower(data->>'cluster_name') = " + arg(strings.ToLower(f.Cluster)))
	}
	if f.Request != 0 {
		sql.WriteString(" AND subject_type = 'request' AND subject_id = " + arg(strconv.FormatInt(f.Request, 10)))
	}
	if !f.From.IsZero() {
		p := arg(f.From)
		// Unchained events (seq from PendingBase up) are newer than every
		// chained one but may carry an earlier time: the bound is looked
		// up among chained events only.
		sql.WriteString(" AND at >= " + p + " AND seq >= coalesce((SELECT seq FROM audit_log WHERE at >= " + p +
			" AND seq < " + pendingBaseSQL + " ORDER BY at, seq LIMIT 1), " + pendingBaseSQL + ")")
	}
	if !f.To.IsZero() {
		p := arg(f.To)
		sql.WriteString(" AND at < " + p + " AND seq <= coalesce((SELECT seq FROM audit_log WHERE at < " + p +
			" ORDER BY at DESC, seq DESC LIMIT 1), 0)")
	}
	if f.Text != "" {
		sql.WriteString(" AND data::text ILIKE " + arg(sqltext.Contains(f.Text)))
	}
	return args
}

// PageRequest asks for one page: the events just older than Before, or
// just newer than After, or the oldest page, or else (the zero value) the
// newest page. Set at most one of them.
type PageRequest struct {
	Before, After int64
	Oldest        bool
	// Limit is the page size; zero means DefaultPageSize.
	Limit int
}

// newestFirst reports whether the page is read from its newest event down
// (the newest page, or ?before), rather than up (?after, the oldest page).
func (p PageRequest) newestFirst() bool { return p.After <= 0 && !p.Oldest }

// DefaultPageSize is the number of events a page shows unless asked.
const DefaultPageSize = 50

// MaxPageSize bounds PageRequest.Limit.
const MaxPageSize = 500

// Page is one page of events, newest first.
type Page struct {
	Entries []Entry
	// HasNewer and HasOlder say whether pages exist on either side; their
	// cursors are After (the first entry's seq) and Before (the last's).
	HasNewer, HasOlder bool
	NewerCursor        int64
	OlderCursor        int64
}

const entryColumns = `seq, at, actor_type, actor_id, actor_name, action, subject_type, subject_id,
	data, origin_ip, origin_request_id, prev_hash, hash`

// List returns one page of the events that match f, newest first. It pages
// by seq (keyset pagination): no OFFSET and no count, so every page costs
// about the same however deep it is, and a page's URL keeps meaning the same
// events when new ones arrive.
func List(ctx context.Context, q Querier, f Filter, p PageRequest) (Page, error) {
	sql, args, limit := listQuery(f, p)
	newerFirst := p.newestFirst()
	rows, err := q.Query(ctx, sql, withCustomPlan(args)...)
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	entries, err := pgx.CollectRows(rows, scanEntry)
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	more := len(entries) > limit
	entries = entries[:min(len(entries), limit)]
	page := Page{Entries: entries}
	if newerFirst {
		page.HasOlder, page.HasNewer = more, p.Before > 0
	} else {
		slices.Reverse(entries)
		page.HasOlder, page.HasNewer = !p.Oldest, more
	}
	switch {
	case len(entries) > 0:
		page.NewerCursor, page.OlderCursor = entries[0].Seq, entries[len(entries)-1].Seq
	case newerFirst:
		page.NewerCursor, page.OlderCursor = p.Before-1, p.Before
	default:
		page.NewerCursor, page.OlderCursor = p.After, p.After+1
	}
	return page, nil
}

// withCustomPlan makes PostgreSQL plan a filter query for its actual
// values, every time. A cached generic plan cannot know how selective a
// text pattern or an actor is, and picks plans up to 100 times slower (a
// bitmap AND over the trigram index where a walk down the actor's index
// finds 50 rows at once). Planning costs a fraction of a millisecond.
func withCustomPlan(args []any) []any {
	return append([]any{pgx.QueryExecModeExec}, args...)
}

// listQuery is the SQL of one page: limit+1 rows, to know whether there
// are more.
func listQuery(f Filter, p PageRequest) (string, []any, int) {
	limit := p.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	var sql strings.Builder
	sql.WriteString("SELECT " + entryColumns + " FROM audit_log WHERE true")
	args := f.where(&sql, nil)
	if p.newestFirst() {
		if p.Before > 0 {
			args = append(args, p.Before)
			sql.WriteString(" AND seq < $" + strconv.Itoa(len(args)))
		}
		sql.WriteString(" ORDER BY seq DESC")
	} else {
		args = append(args, max(p.After, 0))
		sql.WriteString(" AND seq > $" + strconv.Itoa(len(args)) + " ORDER BY seq ASC")
	}
	args = append(args, limit+1)
	sql.WriteString(" LIMIT $" + strconv.Itoa(len(args)))
	return sql.String(), args, limit
}

func scanEntry(row pgx.CollectableRow) (Entry, error) {
	var e Entry
	var data, prev, hash []byte // []byte, not json.RawMessage: pgx copies it without parsing
	err := row.Scan(&e.Seq, &e.At, &e.Actor.Type, &e.Actor.ID, &e.Actor.Name, &e.Action,
		&e.Subject.Type, &e.Subject.ID, &data, &e.Origin.IP, &e.Origin.RequestID, &prev, &hash)
	e.At = e.At.UTC()
	e.Data = data
	copy(e.PrevHash[:], prev)
	copy(e.Hash[:], hash)
	return e, err
}

// Get returns the event at seq, or ErrNotFound. A provisional seq (an
// unchained event's, see Pending) keeps finding its event once chained.
func Get(ctx context.Context, q Querier, seq int64) (Entry, error) {
	sql := "SELECT " + entryColumns + " FROM audit_log WHERE seq = $1"
	if seq >= PendingBase {
		sql = "SELECT " + entryColumns + " FROM audit_log WHERE append_id = $1 - " + pendingBaseSQL
	}
	rows, err := q.Query(ctx, sql, seq)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: get %d: %w", seq, err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEntry)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, fmt.Errorf("%w: event %d", ErrNotFound, seq)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("audit: get %d: %w", seq, err)
	}
	return e, nil
}

// Head is the end of the chain and the count of events kept.
type Head struct {
	Seq  int64
	Hash Hash
	// Events is how many events the log holds now, chained or not: seq has
	// no gaps, so the chained ones cost nothing to count.
	Events int64
	// Pending is how many of them are committed but await chaining
	// (a fraction of a second while the worker runs).
	Pending int64
}

// HeadGet reads the chain head.
func HeadGet(ctx context.Context, q Querier) (Head, error) {
	var h Head
	var hash []byte
	var anchor int64
	err := q.QueryRow(ctx, `
		SELECT h.seq, h.hash, coalesce((SELECT max(seq) FROM audit_anchor), 0),
		       (SELECT count(*) FROM audit_log WHERE seq >= `+pendingBaseSQL+`)
		FROM audit_chain_head h`).Scan(&h.Seq, &hash, &anchor, &h.Pending)
	if err != nil {
		return Head{}, fmt.Errorf("audit: read head: %w", err)
	}
	copy(h.Hash[:], hash)
	h.Events = h.Seq - anchor + h.Pending
	return h, nil
}

// ChainedAfter returns, oldest first, up to limit chained events with a seq
// above after and one of actions, and the chain head's seq when it read
// them. Chained seqs are final and gapless, and the chain only grows at its
// head, so a reader that keeps a cursor (the last seq it handled, or the
// head when it got fewer than limit) sees every event once: the log as a
// transactional outbox (internal/notify relays its events). The head is
// read first: an event chained after it is left to the next call, in
// every isolation level.
func ChainedAfter(ctx context.Context, q Querier, after int64, actions []Action, limit int) ([]Entry, int64, error) {
	var head int64
	if err := q.QueryRow(ctx, "SELECT seq FROM audit_chain_head").Scan(&head); err != nil {
		return nil, 0, fmt.Errorf("audit: read head: %w", err)
	}
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = string(a)
	}
	rows, err := q.Query(ctx, "SELECT "+entryColumns+` FROM audit_log
		WHERE action = ANY($1) AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`, names, after, head, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: events after %d: %w", after, err)
	}
	list, err := pgx.CollectRows(rows, scanEntry)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: events after %d: %w", after, err)
	}
	return list, head, nil
}
