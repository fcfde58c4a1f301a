package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// seedVaried appends n events that vary in actor, action, subject and
// payload, and returns them in seq order.
func seedVaried(t testing.TB, pool *pgxpool.Pool, n int) []audit.Entry {
	t.Helper()
	actors := []audit.Actor{audit.User("1", "Alice"), audit.User("2", "Bob"), audit.System("worker")}
	actions := []audit.Action{audit.RequestCreated, audit.RequestApproved, audit.SubmissionStarted, audit.AuthSignIn}
	subjects := []audit.Subject{
		{Type: audit.SubjectRequest, ID: "10"}, {Type: audit.SubjectRequest, ID: "11"},
		{Type: audit.SubjectCluster, ID: "c1"}, {Type: audit.SubjectCluster, ID: "c2"}, {Type: audit.SubjectUser, ID: "1"},
	}
	words := []string{"Europe replicas", "needle in a haystack", "plain text", "100% done_ok"}
	// Requests 10 and 11 are on clusters c1 and c2 (as the approvals
	// package records them, in data.cluster_name); sign-ins name none.
	clusterOf := map[string]string{"10": "Sales-EU", "11": "billing", "c1": "Sales-EU", "c2": "billing"}
	entries := make([]audit.Entry, 0, n)
	for i := range n {
		subject := subjects[(i/3)%len(subjects)]
		data := map[string]any{"i": i, "note": words[(i/5)%len(words)]}
		if name, ok := clusterOf[subject.ID]; ok && subject.Type != audit.SubjectUser {
			data["cluster_name"] = name
		}
		entries = append(entries, appendOne(t, pool, audit.Event{
			Actor:   actors[i%len(actors)],
			Action:  actions[(i/2)%len(actions)],
			Subject: subject,
			Data:    data,
		}))
	}
	return entries
}

// clusterNameOf is the cluster an event names in its data, or "".
func clusterNameOf(e audit.Entry) string {
	var d struct {
		ClusterName string `json:"cluster_name"`
	}
	_ = json.Unmarshal(e.Data, &d)
	return d.ClusterName
}

// matches is the reference the SQL filter must agree with.
func matches(e audit.Entry, f audit.Filter) bool {
	return (len(f.Actors) == 0 || slices.Contains(f.Actors, e.Actor.ID)) &&
		(f.Cluster == "" || strings.EqualFold(clusterNameOf(e), f.Cluster)) &&
		(f.Request == 0 || (e.Subject.Type == audit.SubjectRequest && e.Subject.ID == strconv.FormatInt(f.Request, 10))) &&
		(len(f.Actions) == 0 || slices.Contains(f.Actions, e.Action)) &&
		(f.SubjectType == "" || e.Subject.Type == f.SubjectType) &&
		(f.SubjectID == "" || e.Subject.ID == f.SubjectID) &&
		(f.From.IsZero() || !e.At.Before(f.From)) &&
		(f.To.IsZero() || e.At.Before(f.To)) &&
		(f.Text == "" || strings.Contains(strings.ToLower(string(e.Data)), strings.ToLower(f.Text)))
}

func seqsOf(entries []audit.Entry) []int64 {
	out := make([]int64, len(entries))
	for i, e := range entries {
		out[i] = e.Seq
	}
	return out
}

// walkOlder pages from the newest to the oldest and returns every seq seen.
// between runs after each page.
func walkOlder(t *testing.T, q audit.Querier, f audit.Filter, size int, between func()) []int64 {
	t.Helper()
	var seen []int64
	req := audit.PageRequest{Limit: size}
	for range 1000 {
		page, err := audit.List(context.Background(), q, f, req)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Entries), size)
		seen = append(seen, seqsOf(page.Entries)...)
		if between != nil {
			between()
		}
		if !page.HasOlder {
			return seen
		}
		req = audit.PageRequest{Before: page.OlderCursor, Limit: size}
	}
	t.Fatal("paging did not end")
	return nil
}

func TestFiltersAndTheirCombinations(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	entries := seedVaried(t, pool, 60)
	from, to := entries[12].At, entries[47].At

	tests := map[string]audit.Filter{
		"everything":              {},
		"actor":                   {Actors: []string{"2"}},
		"system actor":            {Actors: []string{"worker"}},
		"several actors":          {Actors: []string{"2", "worker"}},
		"cluster, any case":       {Cluster: "sales-eu"},
		"cluster and action":      {Cluster: "billing", Actions: []audit.Action{audit.RequestApproved}},
		"cluster nobody names":    {Cluster: "absent"},
		"request":                 {Request: 11},
		"cluster, actor and time": {Cluster: "SALES-eu", Actors: []string{"1", "worker"}, From: from, To: to},
		"request and actor":       {Request: 10, Actors: []string{"1"}},
		"one action":              {Actions: []audit.Action{audit.RequestApproved}},
		"several actions":         {Actions: []audit.Action{audit.RequestApproved, audit.AuthSignIn}},
		"subject type":            {SubjectType: audit.SubjectCluster},
		"subject":                 {SubjectType: audit.SubjectRequest, SubjectID: "11"},
		"subject id alone":        {SubjectID: "1"},
		"from":                    {From: from},
		"to":                      {To: to},
		"time range":              {From: from, To: to},
		"text, any case":          {Text: "NEEDLE"},
		"text with LIKE wildcard": {Text: "100% done_"},
		"text that is a key":      {Text: "note"},
		"no match":                {Text: "absent"},
		"actor and action":        {Actors: []string{"1"}, Actions: []audit.Action{audit.RequestCreated, audit.SubmissionStarted}},
		"actor and subject":       {Actors: []string{"worker"}, SubjectType: audit.SubjectCluster, SubjectID: "c2"},
		"action and time":         {Actions: []audit.Action{audit.AuthSignIn}, From: from, To: to},
		"all at once": {Actors: []string{"1"}, Actions: []audit.Action{audit.RequestCreated, audit.RequestApproved, audit.AuthSignIn},
			SubjectType: audit.SubjectRequest, From: entries[3].At, To: entries[55].At, Text: "europe"},
		"empty time range": {From: to, To: from},
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var want []int64
			for _, e := range slices.Backward(entries) {
				if matches(e, f) {
					want = append(want, e.Seq)
				}
			}
			got := walkOlder(t, pool, f, 7, nil)
			require.Equal(t, want, got)
			if name != "no match" && name != "empty time range" && name != "cluster nobody names" {
				require.NotEmpty(t, got, "a filter test that matches nothing proves little")
			}
		})
	}
}

func TestKeysetPagingHasNoGapsOrDuplicatesWhileEventsArrive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	entries := seedVaried(t, pool, 40)
	for _, f := range []audit.Filter{{}, {Actors: []string{"1"}}, {Cluster: "billing"}, {Actions: []audit.Action{audit.RequestCreated, audit.AuthSignIn}}} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			var existing []int64
			for _, e := range slices.Backward(entries) {
				if matches(e, f) {
					existing = append(existing, e.Seq)
				}
			}
			arrive := func() { entries = append(entries, seedVaried(t, pool, 3)...) }

			// Older, page by page, while new events arrive at the top.
			got := walkOlder(t, pool, f, 4, arrive)
			require.Equal(t, existing, got, "older pages must hold exactly the events that existed")

			// And back up again: newer pages, still while events arrive.
			var up []int64
			req := audit.PageRequest{After: got[len(got)-1] - 1, Oldest: got[len(got)-1] == 1, Limit: 4}
			for range 1000 {
				page, err := audit.List(ctx, pool, f, req)
				require.NoError(t, err)
				require.True(t, slices.IsSortedFunc(page.Entries, func(a, b audit.Entry) int { return int(b.Seq - a.Seq) }),
					"a page lists newest first")
				seqs := seqsOf(page.Entries)
				slices.Reverse(seqs)
				up = append(up, seqs...)
				if !page.HasNewer {
					break
				}
				arrive()
				req = audit.PageRequest{After: page.NewerCursor, Limit: 4}
			}
			var all []int64
			for _, e := range entries {
				if matches(e, f) {
					all = append(all, e.Seq)
				}
			}
			require.Equal(t, all, up, "newer pages must reach the newest event without gaps or repeats")
		})
	}
}

func TestPageCursors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	seedVaried(t, pool, 10)

	first, err := audit.List(ctx, pool, audit.Filter{}, audit.PageRequest{Limit: 4})
	require.NoError(t, err)
	require.Equal(t, []int64{10, 9, 8, 7}, seqsOf(first.Entries))
	require.False(t, first.HasNewer)
	require.True(t, first.HasOlder)
	require.Equal(t, int64(7), first.OlderCursor)

	last, err := audit.List(ctx, pool, audit.Filter{}, audit.PageRequest{Before: 3, Limit: 4})
	require.NoError(t, err)
	require.Equal(t, []int64{2, 1}, seqsOf(last.Entries))
	require.True(t, last.HasNewer)
	require.False(t, last.HasOlder)
	require.Equal(t, int64(2), last.NewerCursor)

	newer, err := audit.List(ctx, pool, audit.Filter{}, audit.PageRequest{After: 1, Limit: 4})
	require.NoError(t, err)
	require.Equal(t, []int64{5, 4, 3, 2}, seqsOf(newer.Entries))
	require.True(t, newer.HasNewer)
	require.True(t, newer.HasOlder)

	oldest, err := audit.List(ctx, pool, audit.Filter{}, audit.PageRequest{Oldest: true, Limit: 4})
	require.NoError(t, err)
	require.Equal(t, []int64{4, 3, 2, 1}, seqsOf(oldest.Entries))
	require.True(t, oldest.HasNewer)
	require.False(t, oldest.HasOlder)
}

func TestExportMatchesThePagesAndVerifiesOffline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	entries := seedVaried(t, pool, 30)
	f := audit.Filter{Actions: []audit.Action{audit.RequestCreated, audit.RequestApproved}, Text: "europe"}
	pages := walkOlder(t, pool, f, 4, nil)
	slices.Reverse(pages) // exports are in chain order, oldest first

	upTo, err := audit.RecordExport(ctx, pool, audit.User("9", "Auditor"), audit.Origin{IP: "192.0.2.1"}, f, audit.FormatJSONL)
	require.NoError(t, err)
	require.Equal(t, int64(len(entries)), upTo)
	appendOne(t, pool, event(func(e *audit.Event) { e.Data = map[string]string{"note": "europe, after the export"} }))

	t.Run("jsonl", func(t *testing.T) {
		var out bytes.Buffer
		n, err := audit.Export(ctx, pool, f, upTo, audit.FormatJSONL, &out)
		require.NoError(t, err)
		lines := strings.SplitAfter(out.String(), "\n")
		require.Equal(t, "", lines[len(lines)-1])
		lines = lines[:len(lines)-1]
		require.Equal(t, int64(len(lines)), n)
		var seqs []int64
		for _, line := range lines {
			var row struct {
				Seq  int64      `json:"seq"`
				Hash audit.Hash `json:"hash"`
			}
			require.NoError(t, json.Unmarshal([]byte(line), &row))
			seqs = append(seqs, row.Seq)
			// Offline verification: the line without its hash is the
			// canonical line, and hashes to the hash.
			canonical := strings.Replace(line, `,"hash":"`+row.Hash.String()+`"`, "", 1)
			require.Equal(t, row.Hash, audit.Hash(sha256.Sum256([]byte(canonical))), line)
			stored, err := audit.Get(ctx, pool, row.Seq)
			require.NoError(t, err)
			want, err := stored.Canonical()
			require.NoError(t, err)
			require.Equal(t, string(want), canonical)
		}
		require.Equal(t, pages, seqs)

		// The same check without the database, as an auditor would run it.
		check, err := audit.VerifyExport(bytes.NewReader(out.Bytes()))
		require.NoError(t, err)
		require.True(t, check.OK, check.String())
		require.Equal(t, int64(len(pages)), check.Events)
		require.Positive(t, check.Gaps, "a filtered export has gaps")

		edited := bytes.Replace(out.Bytes(), []byte(`Europe replicas`), []byte(`Europe REPLICAS`), 1)
		check, err = audit.VerifyExport(bytes.NewReader(edited))
		require.NoError(t, err)
		require.False(t, check.OK)
		require.Contains(t, check.Problem, "do not match its hash")
	})

	t.Run("whole log offline", func(t *testing.T) {
		var out bytes.Buffer
		_, err := audit.Export(ctx, pool, audit.Filter{}, upTo, audit.FormatJSONL, &out)
		require.NoError(t, err)
		check, err := audit.VerifyExport(bytes.NewReader(out.Bytes()))
		require.NoError(t, err)
		require.True(t, check.OK, check.String())
		require.Zero(t, check.Gaps)
		require.Equal(t, entries[len(entries)-1].Hash, check.LastHash)

		// Swap two lines: the order check or the link check catches it.
		lines := bytes.SplitAfter(out.Bytes(), []byte("\n"))
		lines[3], lines[4] = lines[4], lines[3]
		check, err = audit.VerifyExport(bytes.NewReader(bytes.Join(lines, nil)))
		require.NoError(t, err)
		require.False(t, check.OK)
		require.Equal(t, int64(5), check.Line)
	})

	t.Run("csv", func(t *testing.T) {
		var out bytes.Buffer
		n, err := audit.Export(ctx, pool, f, upTo, audit.FormatCSV, &out)
		require.NoError(t, err)
		records, err := csv.NewReader(&out).ReadAll()
		require.NoError(t, err)
		require.Equal(t, audit.CSVHeader, records[0])
		require.Equal(t, int64(len(records)-1), n)
		var seqs []int64
		for _, r := range records[1:] {
			seq, err := strconv.ParseInt(r[0], 10, 64)
			require.NoError(t, err)
			seqs = append(seqs, seq)
			stored, err := audit.Get(ctx, pool, seq)
			require.NoError(t, err)
			require.Equal(t, stored.At.Format(audit.TimeFormat), r[1])
			require.Equal(t, string(stored.Action), r[5])
			require.JSONEq(t, string(stored.Data), r[10])
			require.Equal(t, stored.PrevHash.String(), r[11])
			require.Equal(t, stored.Hash.String(), r[12])
		}
		require.Equal(t, pages, seqs)
	})

	t.Run("the export is itself an event", func(t *testing.T) {
		page, err := audit.List(ctx, pool, audit.Filter{Actions: []audit.Action{audit.AuditExported}}, audit.PageRequest{})
		require.NoError(t, err)
		require.Len(t, page.Entries, 1)
		e := page.Entries[0]
		require.Equal(t, upTo+1, e.Seq)
		require.Equal(t, audit.User("9", "Auditor"), e.Actor)
		var rec audit.ExportRecord
		require.NoError(t, json.Unmarshal(e.Data, &rec))
		require.Equal(t, audit.ExportRecord{Format: audit.FormatJSONL, Filter: f, UpTo: upTo}, rec)
	})
}

func TestCSVExportDefusesFormulas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	appendOne(t, pool, event(func(e *audit.Event) { e.Actor = audit.User("=1+1", "=HYPERLINK(\"http://x\")") }))
	var out bytes.Buffer
	_, err := audit.Export(ctx, pool, audit.Filter{}, 1, audit.FormatCSV, &out)
	require.NoError(t, err)
	records, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "'=1+1", records[1][3])
	require.Equal(t, `'=HYPERLINK("http://x")`, records[1][4])
}

// heapSampler is an export destination that measures the live heap every
// 2 MiB written.
type heapSampler struct {
	written, next int64
	peak          uint64
}

func (s *heapSampler) Write(p []byte) (int, error) {
	s.written += int64(len(p))
	if s.written >= s.next {
		s.next += 2 << 20
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s.peak = max(s.peak, m.HeapAlloc)
	}
	return len(p), nil
}

// TestExportStreamsInConstantMemory exports 2,000 and then 100,000 events and
// compares the live heap while they are written: if rows piled up anywhere
// (a slice, a buffer), the larger export's peak would be tens of MiB higher.
// Not parallel: other tests' allocations would blur the measurement.
func TestExportStreamsInConstantMemory(t *testing.T) {
	ctx := context.Background()
	pool := testdb.New(t)
	// Rows straight into the table: the chain does not matter here, only
	// their number and size.
	_, err := pool.Exec(ctx, `
		INSERT INTO audit_log (seq, at, actor_type, actor_id, actor_name, action, subject_type, subject_id, data, prev_hash, hash)
		SELECT g, now(), 'user', (g % 200)::text, 'Person ' || (g % 200), 'request.approved', 'request', (g % 5000)::text,
		       jsonb_build_object('cluster', 'prod-' || (g % 50), 'comment', repeat('looks good ', 8), 'revision', g % 7),
		       sha256(g::text::bytea), sha256((g + 1)::text::bytea)
		FROM generate_series(1, 100000) g`)
	require.NoError(t, err)

	peak := func(format audit.Format, upTo int64) (uint64, int64) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s := &heapSampler{}
		n, err := audit.Export(ctx, pool, audit.Filter{}, upTo, format, s)
		require.NoError(t, err)
		require.Equal(t, upTo, n)
		return s.peak - min(s.peak, m.HeapAlloc), s.written
	}
	for _, format := range []audit.Format{audit.FormatJSONL, audit.FormatCSV} {
		small, _ := peak(format, 2000)
		large, written := peak(format, 100000)
		t.Logf("%s: %d MiB written; live heap above baseline: 2k rows %d KiB, 100k rows %d KiB",
			format, written>>20, small>>10, large>>10)
		require.Greater(t, written, int64(20<<20), "the large export must dwarf any fixed buffer")
		require.Less(t, large, small+4<<20, "memory grew with the number of rows")
	}
}

var _ io.Writer = (*heapSampler)(nil)

func TestAPageURLKeepsItsEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	seedVaried(t, pool, 5)
	// Same URL, same page, however many events arrive: a cursor pins it.
	before, err := audit.List(ctx, pool, audit.Filter{}, audit.PageRequest{Before: 4, Limit: 2})
	require.NoError(t, err)
	seedVaried(t, pool, 5)
	after, err := audit.List(ctx, pool, audit.Filter{}, audit.PageRequest{Before: 4, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{3, 2}, seqsOf(before.Entries))
	require.Equal(t, seqsOf(before.Entries), seqsOf(after.Entries))
}
