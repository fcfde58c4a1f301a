package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/pglocal"
)

// startDev runs `portal dev` in the background until it listens, and
// returns what it printed until then and a function that stops it.
func startDev(t *testing.T, args []string, vars map[string]string) (printed []string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"dev"}, args...), envOf(vars), outW, io.Discard)
		outW.Close()
	}()
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		printed = append(printed, lines.Text())
		if strings.HasPrefix(lines.Text(), "portal: listening on ") {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			stop = func() error { cancel(); return <-done }
			t.Cleanup(func() { cancel() })
			return printed, stop
		}
	}
	cancel()
	t.Fatalf("portal dev exited before listening: %v\n%s", <-done, strings.Join(printed, "\n"))
	return nil, nil
}

func linesContaining(lines []string, s string) []string {
	var found []string
	for _, l := range lines {
		if strings.Contains(l, s) {
			found = append(found, l)
		}
	}
	return found
}

// TestDevFromAClosedFolder runs `portal dev` from a checkout only its owner
// can enter (a 0700 folder, as /root or mktemp -d). As root, PostgreSQL runs
// as the postgres user, who cannot reach the checkout: the database is kept
// in /var/tmp instead, said once, found again on the next start, and
// removed by `portal dev -clean` (make clean). Run as another user, the
// database stays in the checkout.
func TestDevFromAClosedFolder(t *testing.T) {
	t.Parallel()
	// The checkout itself is the closed folder (t.TempDir's own parent is
	// closed too, and would be named instead).
	open, err := os.MkdirTemp("", "portal-dev-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(open) })
	require.NoError(t, os.Chmod(open, 0o755))
	checkout := filepath.Join(open, "checkout")
	require.NoError(t, os.Mkdir(checkout, 0o700))
	data := filepath.Join(checkout, ".dev")
	relocated, err := pglocal.RelocatedDir(filepath.Join(data, "postgres"))
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(relocated) })
	asRoot := os.Geteuid() == 0
	dbDir := filepath.Join(data, "postgres")
	if asRoot {
		dbDir = relocated
	}

	vars := testEnv(t)
	delete(vars, "PORTAL_DATABASE_URL") // portal dev's own database
	args := []string{"-data", data, "-pg-port", "0", "-mail=false"}
	printed, stop := startDev(t, args, vars)
	base := "http://" + vars["PORTAL_LISTEN_ADDR"]
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	pgURL := ""
	for _, l := range printed {
		if u, ok := strings.CutPrefix(l, "portal dev: PostgreSQL at "); ok {
			pgURL = u
		}
	}
	require.NotEmpty(t, pgURL, "portal dev prints its database's URL:\n%s", strings.Join(printed, "\n"))
	conn, err := pgx.Connect(t.Context(), pgURL)
	require.NoError(t, err)
	var dataDirectory string
	require.NoError(t, conn.QueryRow(t.Context(), "SHOW data_directory").Scan(&dataDirectory))
	_, err = conn.Exec(t.Context(), "CREATE TABLE kept (id int)")
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))
	require.Equal(t, dbDir, dataDirectory)
	require.Len(t, linesContaining(printed, "starting PostgreSQL in "+dbDir), 1)
	if asRoot {
		said := linesContaining(printed, "is kept in "+relocated)
		require.Len(t, said, 1, "the new place is said once:\n%s", strings.Join(printed, "\n"))
		require.Contains(t, said[0], "cannot enter "+checkout+",")
		target, err := os.Readlink(filepath.Join(data, "postgres"))
		require.NoError(t, err)
		require.Equal(t, relocated, target, ".dev/postgres leads to the database")
	} else {
		require.NoDirExists(t, relocated)
	}
	require.NoError(t, stop())

	// The next start finds the same database and does not say it again.
	printed, stop = startDev(t, args, vars)
	require.Empty(t, linesContaining(printed, "is kept in"))
	require.Len(t, linesContaining(printed, "starting PostgreSQL in "+dbDir), 1)
	for _, l := range printed {
		if u, ok := strings.CutPrefix(l, "portal dev: PostgreSQL at "); ok {
			pgURL = u
		}
	}
	conn, err = pgx.Connect(t.Context(), pgURL)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), "SELECT * FROM kept")
	require.NoError(t, err, "the database of the first start")
	require.NoError(t, conn.Close(t.Context()))
	require.NoError(t, stop())

	// make clean's step.
	require.NoError(t, run(t.Context(), []string{"dev", "-clean", "-data", data}, envOf(nil), io.Discard, io.Discard))
	require.NoDirExists(t, relocated)
	require.NoDirExists(t, data)
	require.NoError(t, run(t.Context(), []string{"dev", "-clean", "-data", data}, envOf(nil), io.Discard, io.Discard),
		"cleaning with nothing there is no error")
}
