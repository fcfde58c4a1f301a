package audit

// Internals the benchmarks (package audit_test) use; compiled only with the
// tests.

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// WhereForBench is the filter's SQL condition and arguments.
func WhereForBench(f Filter) (string, []any) {
	var sql strings.Builder
	args := f.where(&sql, nil)
	return sql.String(), args
}

// ExplainForBench runs EXPLAIN (ANALYZE, BUFFERS) on the query of a page.
func ExplainForBench(ctx context.Context, q Querier, f Filter, p PageRequest) (string, error) {
	sql, args, _ := listQuery(f, p)
	rows, err := q.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+sql, withCustomPlan(args)...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// AppendAdvisoryForBench is the road not taken, kept to measure it: the
// chain serialised by pg_advisory_xact_lock and its head read from the last
// row, in the table audit_advisory. It needs three round trips where Append
// needs two.
func AppendAdvisoryForBench(ctx context.Context, tx pgx.Tx, e Event) error {
	data, err := normalizeData(e.Data)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	writeValue(&buf, data)
	entry := Entry{Actor: e.Actor, Action: e.Action, Subject: e.Subject, Origin: e.Origin, Data: buf.Bytes()}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(20)"); err != nil {
		return err
	}
	var prev []byte
	err = tx.QueryRow(ctx, `
		SELECT coalesce(max(seq), 0) + 1, greatest(clock_timestamp(), max(at)),
		       coalesce((SELECT hash FROM audit_advisory ORDER BY seq DESC LIMIT 1), $1)
		FROM (SELECT seq, at FROM audit_advisory ORDER BY seq DESC LIMIT 1) last`, Genesis[:]).
		Scan(&entry.Seq, &entry.At, &prev)
	if err != nil {
		return err
	}
	copy(entry.PrevHash[:], prev)
	if entry.Hash, err = entry.ComputeHash(); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO audit_advisory (seq, at, actor_type, actor_id, actor_name, action, subject_type, subject_id,
		                            data, origin_ip, origin_request_id, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13)`,
		entry.Seq, entry.At, string(entry.Actor.Type), entry.Actor.ID, entry.Actor.Name, string(entry.Action),
		string(entry.Subject.Type), entry.Subject.ID, string(entry.Data), entry.Origin.IP, entry.Origin.RequestID,
		entry.PrevHash[:], entry.Hash[:])
	return err
}

// ChainForBench builds a valid chain of n events, one every 6.3 s from start
// (two years for ten million), with payloads like the portal's.
func ChainForBench(n int64, start time.Time) []Entry {
	entries := make([]Entry, n)
	prev := Genesis
	for i := range n {
		e := Entry{
			Seq:     i + 1,
			At:      start.Add(time.Duration(i) * 6307 * time.Millisecond).Truncate(time.Microsecond),
			Actor:   User(strconv.FormatInt(1+i%200, 10), "Person "+strconv.FormatInt(1+i%200, 10)),
			Action:  actions[i%int64(len(actions))],
			Subject: Subject{Type: SubjectRequest, ID: strconv.FormatInt(i/8, 10)},
			Origin:  Origin{IP: "10.1.2.3", RequestID: strconv.FormatInt(i, 16)},
			Data: []byte(`{"cluster":"cl-` + strconv.FormatInt(i%50, 10) + `","comment":"routine version upgrade",` +
				`"diff_sha256":"5d41402abc4b2a76b9719d911017c592ae1b2f0a4e3c9d7e8f6a5b4c3d2e1f00","environment":"production","revision":` +
				strconv.FormatInt(1+i%4, 10) + `}`),
			PrevHash: prev,
		}
		e.Hash, _ = e.ComputeHash()
		prev = e.Hash
		entries[i] = e
	}
	return entries
}

// LoadForBench copies entries into audit_log and moves the head to the last.
func LoadForBench(ctx context.Context, pool *pgxpool.Pool, entries []Entry) error {
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"audit_log"}, []string{
		"seq", "at", "actor_type", "actor_id", "actor_name", "action", "subject_type", "subject_id",
		"data", "origin_ip", "origin_request_id", "prev_hash", "hash"},
		pgx.CopyFromSlice(len(entries), func(i int) ([]any, error) {
			e := entries[i]
			return []any{e.Seq, e.At, string(e.Actor.Type), e.Actor.ID, e.Actor.Name, string(e.Action),
				string(e.Subject.Type), e.Subject.ID, string(e.Data), e.Origin.IP, e.Origin.RequestID,
				e.PrevHash[:], e.Hash[:]}, nil
		}))
	if err != nil {
		return err
	}
	last := entries[len(entries)-1]
	_, err = pool.Exec(ctx, "UPDATE audit_chain_head SET seq = $1, at = $2, hash = $3", last.Seq, last.At, last.Hash[:])
	return err
}

// AppendInTransactionForBench is the append this package made before the
// chain left the request path (git show 6bab642^:internal/audit/append.go),
// kept to measure against in the same run: one statement that locks the
// chain head, inserts the event chained and moves the head, so the head
// stays locked until the caller's commit. Run it with no chainer at work
// (it would interleave with Chain's seqs correctly, but measure both).
func AppendInTransactionForBench(ctx context.Context, tx pgx.Tx, e Event) error {
	data, err := normalizeData(e.Data)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	writeValue(&buf, data)
	entry := Entry{Actor: e.Actor, Action: e.Action, Subject: e.Subject, Origin: e.Origin, Data: buf.Bytes()}
	// The canonical line cut around at, prev_hash and seq, which the
	// statement fills in under the lock (sentinels mark the cuts; the
	// benchmark's event holds none of them).
	line, err := entry.Canonical()
	if err != nil {
		return err
	}
	s := string(line)
	atCut := `"at":"` + entry.At.UTC().Format(TimeFormat)
	prevCut := `"prev_hash":"` + Genesis.String()
	seqCut := `"seq":0`
	i := strings.Index(s, atCut) + len(`"at":"`)
	j := strings.LastIndex(s, prevCut) + len(`"prev_hash":"`)
	k := strings.LastIndex(s, seqCut) + len(`"seq":`)
	parts := [4]string{s[:i], s[i+len(TimeFormat) : j], s[j+64 : k], s[k+1:]}
	_, err = tx.Exec(ctx, `
WITH entry AS (
	INSERT INTO audit_log (seq, at, actor_type, actor_id, actor_name, action, subject_type, subject_id,
	                       data, origin_ip, origin_request_id, prev_hash, hash)
	SELECT n.seq, n.at, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, n.prev,
	       sha256(convert_to($1 || to_char(n.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || $2
	                         || encode(n.prev, 'hex') || $3 || n.seq::text || $4, 'UTF8'))
	FROM (SELECT h.seq + 1 AS seq, greatest(clock_timestamp(), h.at) AS at, h.hash AS prev
	      FROM audit_chain_head h FOR UPDATE) n
	RETURNING seq, at, prev_hash, hash
)
UPDATE audit_chain_head h SET seq = entry.seq, at = entry.at, hash = entry.hash
FROM entry`,
		parts[0], parts[1], parts[2], parts[3],
		string(entry.Actor.Type), entry.Actor.ID, entry.Actor.Name, string(entry.Action),
		string(entry.Subject.Type), entry.Subject.ID, string(entry.Data), entry.Origin.IP, entry.Origin.RequestID)
	return err
}
