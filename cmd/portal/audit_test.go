package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func auditEvents(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	for range n {
		err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
			_, err := audit.Append(t.Context(), tx, audit.Event{
				Actor: audit.User("1", "Alice"), Action: audit.RequestCreated,
				Subject: audit.Subject{Type: audit.SubjectRequest, ID: "7"},
			})
			return err
		})
		require.NoError(t, err)
	}
}

func TestAuditCommand(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	pool, err := pgxpool.New(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	env := envOf(map[string]string{"PORTAL_DATABASE_URL": url})
	portal := func(args ...string) (string, error) {
		var out strings.Builder
		err := run(t.Context(), args, env, &out, io.Discard)
		return out.String(), err
	}
	auditEvents(t, pool, 3)

	out, err := portal("audit", "head")
	require.NoError(t, err)
	require.Regexp(t, `^seq 3 hash [0-9a-f]{64} events 3\n$`, out)

	out, err = portal("audit", "verify")
	require.NoError(t, err)
	require.Regexp(t, `^ok, 3 events, head hash [0-9a-f]{64} \(`, out)
	v, err := audit.LatestVerification(t.Context(), pool)
	require.NoError(t, err)
	require.Equal(t, audit.System("cli"), v.Actor, "the check is recorded in the log")

	// An export checked offline, with no database configured.
	exportFile := filepath.Join(t.TempDir(), "export.jsonl")
	f, err := os.Create(exportFile)
	require.NoError(t, err)
	_, err = audit.Export(t.Context(), pool, audit.Filter{}, 3, audit.FormatJSONL, f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	var offline strings.Builder
	require.NoError(t, run(t.Context(), []string{"audit", "verify", "-file", exportFile}, envOf(nil), &offline, io.Discard))
	require.Regexp(t, `^ok, 3 events \(seq 1 to 3\), last hash [0-9a-f]{64}\n$`, offline.String())

	out, err = portal("audit", "prune")
	require.NoError(t, err)
	require.Contains(t, out, "every event is kept")

	_, err = pool.Exec(t.Context(), "ALTER TABLE audit_log DISABLE TRIGGER USER")
	require.NoError(t, err)
	_, err = pool.Exec(t.Context(), `UPDATE audit_log SET actor_name = 'Mallory' WHERE seq = 2`)
	require.NoError(t, err)
	out, err = portal("audit", "verify")
	require.ErrorIs(t, err, errChainBroken)
	require.Contains(t, out, "BROKEN at seq 2")

	_, err = portal("audit", "rewrite")
	var usage usageError
	require.ErrorAs(t, err, &usage)
}

func TestSecurityEventsReachTheAuditLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	record := auditRecorder(pool, slog.New(slog.DiscardHandler))
	record.Record(ctx, auth.Event{Kind: auth.EventLogin, UserID: 12, Username: "alice", Subject: "sub-alice",
		IP: "192.0.2.7", RequestID: "r1"})
	record.Record(ctx, auth.Event{Kind: auth.EventLoginFailed, IP: "192.0.2.8", Reason: "state mismatch"})
	record.Record(ctx, auth.Event{Kind: auth.EventDenied, UserID: 12, Username: "alice", Method: "GET", Path: "/audit",
		Reason: "needs role auditor"})
	record.Record(ctx, auth.Event{Kind: auth.EventLogout, UserID: 12, Username: "alice"})

	page, err := audit.List(ctx, pool, audit.Filter{}, audit.PageRequest{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 4)
	logout, denied, failed, login := page.Entries[0], page.Entries[1], page.Entries[2], page.Entries[3]

	require.Equal(t, audit.AuthSignIn, login.Action)
	require.Equal(t, audit.User("12", "alice"), login.Actor)
	require.Equal(t, audit.Subject{Type: audit.SubjectUser, ID: "12"}, login.Subject)
	require.Equal(t, audit.Origin{IP: "192.0.2.7", RequestID: "r1"}, login.Origin)
	require.JSONEq(t, `{"subject":"sub-alice"}`, string(login.Data))

	require.Equal(t, audit.AuthSignInFailed, failed.Action)
	require.Equal(t, "anonymous", failed.Actor.ID)
	require.JSONEq(t, `{"reason":"state mismatch"}`, string(failed.Data))

	require.Equal(t, audit.AuthDenied, denied.Action)
	require.JSONEq(t, `{"method":"GET","path":"/audit","reason":"needs role auditor"}`, string(denied.Data))
	require.Equal(t, audit.AuthSignOut, logout.Action)
}

func TestServeWorkerOnly(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	out, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-worker"}, envOf(vars), outW, io.Discard)
		outW.Close()
	}()
	lines := bufio.NewScanner(out)
	require.True(t, lines.Scan(), "portal exited before its first line")
	require.Equal(t, "portal: worker running", lines.Text())
	go func() { _, _ = io.Copy(io.Discard, out) }()

	pool, err := pgxpool.New(t.Context(), vars["PORTAL_DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.Eventually(t, func() bool {
		_, err := audit.LatestVerification(t.Context(), pool)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "the worker never verified the audit log")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not stop")
	}
}
