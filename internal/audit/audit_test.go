package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// event is a factory: a request event by alice unless opts say otherwise.
func event(opts ...func(*audit.Event)) audit.Event {
	e := audit.Event{
		Actor:   audit.User("1", "Alice Example"),
		Action:  audit.RequestCreated,
		Subject: audit.Subject{Type: audit.SubjectRequest, ID: "42"},
		Origin:  audit.Origin{IP: "192.0.2.10", RequestID: "req-1"},
		Data:    map[string]any{"cluster": "prod-eu", "replicas": 3},
	}
	for _, o := range opts {
		o(&e)
	}
	return e
}

// appendOne appends e in a transaction of its own, chains it as the
// worker would, and returns it chained.
func appendOne(t testing.TB, pool *pgxpool.Pool, e audit.Event) audit.Entry {
	t.Helper()
	var entry audit.Entry
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		entry, err = audit.Append(context.Background(), tx, e)
		return err
	})
	require.NoError(t, err)
	require.True(t, entry.Pending(), "an append leaves the event unchained")
	_, err = audit.ChainAll(context.Background(), pool)
	require.NoError(t, err)
	chained, err := audit.Get(context.Background(), pool, entry.Seq)
	require.NoError(t, err)
	require.False(t, chained.Pending())
	// Append returns the data as it hashes it; the stored jsonb reads back
	// with PostgreSQL's spacing (the canonical line is the same).
	chained.Data = entry.Data
	return chained
}

func verify(t *testing.T, pool *pgxpool.Pool) audit.Result {
	t.Helper()
	r, err := audit.Verify(context.Background(), pool)
	require.NoError(t, err)
	return r
}

func TestAppendStoresTheEventAndChainsIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)

	first := appendOne(t, pool, event())
	second := appendOne(t, pool, event(func(e *audit.Event) {
		e.Actor = audit.System("worker")
		e.Action = audit.SubmissionStarted
	}))

	require.Equal(t, int64(1), first.Seq)
	require.Equal(t, audit.Genesis, first.PrevHash)
	require.Equal(t, int64(2), second.Seq)
	require.Equal(t, first.Hash, second.PrevHash)
	require.Equal(t, time.UTC, first.At.Location())
	require.WithinDuration(t, time.Now(), first.At, time.Minute)
	require.False(t, second.At.Before(first.At))

	got, err := audit.Get(ctx, pool, 1)
	require.NoError(t, err)
	require.Equal(t, first.Hash, got.Hash)
	require.Equal(t, first.At, got.At)
	require.Equal(t, audit.User("1", "Alice Example"), got.Actor)
	require.Equal(t, audit.Origin{IP: "192.0.2.10", RequestID: "req-1"}, got.Origin)
	require.JSONEq(t, `{"cluster":"prod-eu","replicas":3}`, string(got.Data))
	recomputed, err := got.ComputeHash()
	require.NoError(t, err)
	require.Equal(t, got.Hash, recomputed, "the stored row must hash to its hash")

	head, err := audit.HeadGet(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, audit.Head{Seq: 2, Hash: second.Hash, Events: 2}, head)

	_, err = audit.Get(ctx, pool, 3)
	require.ErrorIs(t, err, audit.ErrNotFound)

	r := verify(t, pool)
	require.True(t, r.OK, r.String())
	require.Equal(t, fmt.Sprintf("ok, 2 events, head hash %s", second.Hash), r.String())
}

func TestAppendRejectsInvalidEvents(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	tests := map[string]func(*audit.Event){
		"unknown action":       func(e *audit.Event) { e.Action = "request.teleported" },
		"no actor":             func(e *audit.Event) { e.Actor = audit.Actor{} },
		"unknown actor type":   func(e *audit.Event) { e.Actor.Type = "robot" },
		"unknown subject type": func(e *audit.Event) { e.Subject.Type = "planet" },
		"unencodable data":     func(e *audit.Event) { e.Data = map[string]any{"f": func() {}} },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
				_, err := audit.Append(context.Background(), tx, event(mutate))
				return err
			})
			require.Error(t, err)
		})
	}
	// Parallel subtests finish before the parent's cleanup runs.
	t.Cleanup(func() {
		head, err := audit.HeadGet(context.Background(), pool)
		require.NoError(t, err)
		require.Zero(t, head.Seq)
	})
}

func TestRolledBackEventsDoNotAppear(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	kept := appendOne(t, pool, event())

	errAction := errors.New("the action failed")
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := audit.Append(ctx, tx, event(func(e *audit.Event) { e.Action = audit.RequestApproved })); err != nil {
			return err
		}
		return errAction // the action fails after its audit entry was written
	})
	require.ErrorIs(t, err, errAction)

	page, err := audit.List(ctx, pool, audit.Filter{}, audit.PageRequest{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	require.Equal(t, kept.Seq, page.Entries[0].Seq)

	// The chain carries on from the committed event, without a gap.
	next := appendOne(t, pool, event())
	require.Equal(t, kept.Seq+1, next.Seq)
	require.Equal(t, kept.Hash, next.PrevHash)
	require.True(t, verify(t, pool).OK)
}

func TestConcurrentAppendersMakeOneChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testdb.NewURL(t))
	require.NoError(t, err)
	cfg.MaxConns = 60
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	const appenders, each = 50, 20
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, appenders)
	for i := range appenders {
		wg.Go(func() {
			<-start
			for j := range each {
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					_, err := audit.Append(ctx, tx, event(func(e *audit.Event) {
						e.Actor = audit.User(fmt.Sprint(i), fmt.Sprintf("appender %d", i))
						e.Data = map[string]int{"n": j}
					}))
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	r := verify(t, pool)
	require.True(t, r.OK, r.String())
	require.Equal(t, int64(appenders*each), r.Events)
	require.Equal(t, int64(appenders*each), r.HeadSeq)
	var distinct, forks int
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT count(DISTINCT prev_hash), count(*) - count(DISTINCT prev_hash) FROM audit_log`).Scan(&distinct, &forks))
	require.Equal(t, appenders*each, distinct)
	require.Zero(t, forks, "two events point back to the same one: the chain forked")
}

func TestTheLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	appendOne(t, pool, event())
	appendOne(t, pool, event())

	statements := []string{
		`UPDATE audit_log SET data = '{"cluster":"other"}' WHERE seq = 1`,
		`UPDATE audit_log SET actor_name = 'Mallory'`,
		`DELETE FROM audit_log WHERE seq = 2`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
		`UPDATE audit_anchor SET pruned = 0`,
		`DELETE FROM audit_anchor`,
		`DELETE FROM audit_chain_head`,
		// The flag audit_prune sets is not enough outside it when the role
		// lacks DELETE, and it is transaction-local inside it; here it is
		// not even set.
		`DELETE FROM audit_log WHERE seq <= 1`,
	}
	for _, sql := range statements {
		t.Run(sql, func(t *testing.T) {
			_, err := pool.Exec(ctx, sql)
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr)
			require.Equal(t, "42501", pgErr.Code, pgErr.Message)
			require.Contains(t, pgErr.Message, "append-only")
		})
	}
	r := verify(t, pool)
	require.True(t, r.OK, r.String())
	require.Equal(t, int64(2), r.Events)
}

// TestAppRoleHasNoRightToChangeTheLog runs as a role set up the way
// docs/audit.md tells a hardened install to: it may append and read, and
// prune through audit_prune, but UPDATE, DELETE and TRUNCATE are denied by
// privileges before any trigger runs.
func TestAppRoleHasNoRightToChangeTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	role := fmt.Sprintf("portal_app_%d", time.Now().UnixNano())
	for _, sql := range []string{
		"CREATE ROLE " + role + " NOLOGIN",
		"GRANT SELECT, INSERT ON audit_log TO " + role,
		"GRANT SELECT, UPDATE ON audit_chain_head TO " + role,
		"GRANT SELECT ON audit_anchor TO " + role,
		"GRANT EXECUTE ON FUNCTION audit_prune(timestamptz) TO " + role,
		"GRANT USAGE ON SEQUENCE audit_append_id TO " + role,
		"GRANT EXECUTE ON FUNCTION audit_chain(bigint[], timestamptz[], bytea[]) TO " + role,
	} {
		_, err := pool.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP OWNED BY "+role)
		_, _ = pool.Exec(context.Background(), "DROP ROLE "+role)
	})
	asApp := func(f func(tx pgx.Tx) error) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+role); err != nil {
				return err
			}
			return f(tx)
		})
	}

	var first audit.Entry
	require.NoError(t, asApp(func(tx pgx.Tx) error {
		var err error
		first, err = audit.Append(ctx, tx, event())
		return err
	}))
	for _, sql := range []string{
		`UPDATE audit_log SET data = '{}'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
		`INSERT INTO audit_anchor (seq, hash, at, pruned) VALUES (99, '\x00', now(), 0)`,
	} {
		err := asApp(func(tx pgx.Tx) error { _, err := tx.Exec(ctx, sql); return err })
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, sql)
		require.Equal(t, "42501", pgErr.Code, sql)
		require.Contains(t, pgErr.Message, "permission denied", sql)
	}

	// Pruning still works, through the function only.
	require.NoError(t, asApp(func(tx pgx.Tx) error {
		p, err := audit.Prune(ctx, tx, first.At.Add(time.Microsecond), audit.System("worker"))
		require.Equal(t, int64(1), p.Count)
		return err
	}))
	r := verify(t, pool)
	require.True(t, r.OK, r.String())
}

// tamper runs statements as the superuser with the log's triggers off, the
// way an attacker with full database access would.
func tamper(t *testing.T, pool *pgxpool.Pool, statements ...string) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, sql := range append(append([]string{"ALTER TABLE audit_log DISABLE TRIGGER USER"}, statements...),
			"ALTER TABLE audit_log ENABLE TRIGGER USER") {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("%s: %w", sql, err)
			}
		}
		return nil
	})
	require.NoError(t, err)
}

func TestVerifyFindsTheFirstBrokenLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tamper  []string
		broken  int64
		problem string
	}{
		{"payload edited", []string{`UPDATE audit_log SET data = '{"cluster":"prod-eu","replicas":1}' WHERE seq = 6`}, 6, "edited"},
		{"actor rewritten", []string{`UPDATE audit_log SET actor_name = 'Mallory' WHERE seq = 3`}, 3, "edited"},
		{"time moved", []string{`UPDATE audit_log SET at = at + interval '1 microsecond' WHERE seq = 10`}, 10, "edited"},
		{"edited and rehashed", []string{
			`UPDATE audit_log SET data = '{"cluster":"x"}', hash = sha256('forged') WHERE seq = 5`,
		}, 5, "edited"},
		{"hash of another event copied in", []string{
			`UPDATE audit_log SET hash = (SELECT hash FROM audit_log WHERE seq = 6) WHERE seq = 5`,
		}, 5, "edited"},
		{"event deleted", []string{`DELETE FROM audit_log WHERE seq = 4`}, 4, "missing"},
		{"two events swapped", []string{
			`UPDATE audit_log SET seq = 1007 WHERE seq = 7`,
			`UPDATE audit_log SET seq = 7 WHERE seq = 8`,
			`UPDATE audit_log SET seq = 8 WHERE seq = 1007`,
		}, 7, "prev_hash"},
		{"tail truncated", []string{`DELETE FROM audit_log WHERE seq >= 11`}, 11, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := testdb.New(t)
			for i := range 12 {
				appendOne(t, pool, event(func(e *audit.Event) { e.Data = map[string]int{"i": i} }))
			}
			require.True(t, verify(t, pool).OK)
			tamper(t, pool, tt.tamper...)
			r := verify(t, pool)
			require.False(t, r.OK)
			require.Equal(t, tt.broken, r.BrokenSeq, r.String())
			require.Contains(t, r.Problem, tt.problem)
			require.Contains(t, r.String(), fmt.Sprintf("BROKEN at seq %d", tt.broken))
		})
	}
}

// TestVerifyCatchesAForgerWhoRehashes: an attacker who edits an event and
// recomputes its hash correctly still breaks the link to the next event.
func TestVerifyCatchesAForgerWhoRehashes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	for range 6 {
		appendOne(t, pool, event())
	}
	forged, err := audit.Get(ctx, pool, 3)
	require.NoError(t, err)
	forged.Data = []byte(`{"cluster":"prod-eu","replicas":0}`)
	forged.Hash, err = forged.ComputeHash()
	require.NoError(t, err)
	tamper(t, pool, fmt.Sprintf(`UPDATE audit_log SET data = '%s', hash = '\x%s' WHERE seq = 3`, forged.Data, forged.Hash))

	r := verify(t, pool)
	require.False(t, r.OK)
	require.Equal(t, int64(4), r.BrokenSeq, r.String())
	require.Contains(t, r.Problem, "prev_hash")

	// A well-formed event slipped in after the head, bypassing Append, is
	// caught by the head check.
	pool = testdb.New(t)
	for range 3 {
		appendOne(t, pool, event())
	}
	last, err := audit.Get(ctx, pool, 3)
	require.NoError(t, err)
	extra := last
	extra.Seq, extra.PrevHash = 4, last.Hash
	extra.Hash, err = extra.ComputeHash()
	require.NoError(t, err)
	tamper(t, pool, fmt.Sprintf(`INSERT INTO audit_log SELECT 4, at, actor_type, actor_id, actor_name, action,
		subject_type, subject_id, data, origin_ip, origin_request_id, '\x%s', '\x%s' FROM audit_log WHERE seq = 3`,
		extra.PrevHash, extra.Hash))
	r = verify(t, pool)
	require.False(t, r.OK)
	require.Equal(t, int64(4), r.BrokenSeq, r.String())
	require.Contains(t, r.Problem, "after the chain head")
}

func TestRecordedVerifications(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	_, err := audit.LatestVerification(ctx, pool)
	require.ErrorIs(t, err, audit.ErrNotFound)

	appendOne(t, pool, event())
	r := verify(t, pool)
	_, err = audit.RecordVerification(ctx, pool, audit.System("cli"), audit.Origin{}, r)
	require.NoError(t, err)
	v, err := audit.LatestVerification(ctx, pool)
	require.NoError(t, err)
	require.True(t, v.Result.OK)
	require.Equal(t, r, v.Result)
	require.Equal(t, audit.System("cli"), v.Actor)

	tamper(t, pool, `UPDATE audit_log SET data = '{}' WHERE seq = 1`)
	r = verify(t, pool)
	require.False(t, r.OK)
	_, err = audit.RecordVerification(ctx, pool, audit.System("worker"), audit.Origin{}, r)
	require.NoError(t, err)
	v, err = audit.LatestVerification(ctx, pool)
	require.NoError(t, err)
	require.False(t, v.Result.OK)
	require.Equal(t, int64(1), v.Result.BrokenSeq)
}

func TestSecretsNeverReachTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	secrets := []string{"hunter2", "s3cr3t-client", "tok-abc", "ref-xyz", "Bearer-less-raw", "druid-pw", "cookie-val", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"}
	entry := appendOne(t, pool, event(func(e *audit.Event) {
		e.Data = map[string]any{
			"spec": map[string]any{
				"initialDruidPassword": "druid-pw",
				"servers":              []any{map[string]any{"name": "broker", "apiToken": "tok-abc"}},
			},
			"oauth":   map[string]any{"client_id": "portal", "client_secret": "s3cr3t-client", "refresh_token": "ref-xyz"},
			"headers": map[string]any{"Authorization": "Bearer-less-raw", "Cookie": "cookie-val"},
			"db":      "postgres://portal:hunter2@db:5432/clusterdesk",
			"id":      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
		}
	}))
	stored, err := audit.Get(ctx, pool, entry.Seq)
	require.NoError(t, err)
	for _, s := range secrets {
		require.NotContains(t, string(stored.Data), s)
	}
	require.Contains(t, string(stored.Data), `"client_id": "portal"`)
	require.Contains(t, string(stored.Data), "postgres://portal:[redacted]@db:5432/clusterdesk")
	require.True(t, verify(t, pool).OK)
}

func TestNumbersAndStringsSurviveTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	raw := `{"int":3,"neg":-42,"zero":0,"negzero":-0.0,"frac":0.30000000000000004,"trail":1.50,"exp":1.5e3,
		"small":0.0001,"tiny":1e-7,"big":1e15,"huge":123456789012345678901234567890,"precise":1.00000000000000000001,
		"text":"tab\there \"quoted\" \\ back é 😀 \u2028 \u007f \u0001","nul":"a\u0000b","list":[1,2.5,"x",null,true]}`
	entry := appendOne(t, pool, event(func(e *audit.Event) { e.Data = json.RawMessage(raw) }))
	stored, err := audit.Get(ctx, pool, entry.Seq)
	require.NoError(t, err)
	want := `{"big":"1e15","exp":1500,"frac":0.30000000000000004,"huge":"123456789012345678901234567890",` +
		`"int":3,"list":[1,2.5,"x",null,true],"neg":-42,"negzero":0,"nul":"a` + "\uFFFD" + `b",` +
		`"precise":"1.00000000000000000001","small":0.0001,` +
		`"text":"tab\there \"quoted\" \\ back é 😀 ` + "\u2028" + ` \u007f \u0001","tiny":"1e-7","trail":1.5,"zero":0}`
	require.Equal(t, want, string(entry.Data))
	line, err := stored.Canonical()
	require.NoError(t, err)
	require.Contains(t, string(line), `"data":`+want+`,`)
	require.True(t, verify(t, pool).OK)
}

func TestPruneKeepsTheChainVerifiable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	var entries []audit.Entry
	for range 8 {
		entries = append(entries, appendOne(t, pool, event()))
	}

	// Nothing older than the first event: nothing happens, nothing is said.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		p, err := audit.Prune(ctx, tx, entries[0].At, audit.System("worker"))
		require.Equal(t, audit.Pruned{}, p)
		return err
	})
	require.NoError(t, err)

	var pruned audit.Pruned
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		pruned, err = audit.Prune(ctx, tx, entries[4].At, audit.System("worker"))
		return err
	})
	require.NoError(t, err)
	require.Equal(t, int64(1), pruned.FirstSeq)
	require.Equal(t, int64(4), pruned.LastSeq)
	require.Equal(t, int64(4), pruned.Count)
	require.Equal(t, entries[3].Hash, pruned.AnchorHash)

	r := verify(t, pool)
	require.True(t, r.OK, r.String())
	require.Equal(t, int64(5), r.FirstSeq)
	require.Equal(t, int64(5), r.Events, "events 5 to 8 and the audit.pruned event")

	page, err := audit.List(ctx, pool, audit.Filter{Actions: []audit.Action{audit.AuditPruned}}, audit.PageRequest{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	require.Contains(t, string(page.Entries[0].Data), entries[3].Hash.String())

	head, err := audit.HeadGet(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, int64(5), head.Events)

	// Deleting the anchor's successor is still caught.
	tamper(t, pool, "DELETE FROM audit_log WHERE seq = 5")
	r = verify(t, pool)
	require.False(t, r.OK)
	require.Equal(t, int64(5), r.BrokenSeq)
}

func TestRetentionCutoff(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	require.True(t, audit.RetentionCutoff(now, 0).IsZero())
	require.Equal(t, time.Date(2019, 3, 1, 12, 0, 0, 0, time.UTC), audit.RetentionCutoff(now, 7))
}

func TestActionsAreClosed(t *testing.T) {
	t.Parallel()
	seen := map[audit.Action]bool{}
	for _, a := range audit.Actions() {
		require.True(t, a.Valid())
		require.False(t, seen[a], "listed twice: %s", a)
		seen[a] = true
		area, verb, ok := strings.Cut(string(a), ".")
		require.True(t, ok && area != "" && verb != "", a)
	}
	require.False(t, audit.Action("request.deleted").Valid())
}
