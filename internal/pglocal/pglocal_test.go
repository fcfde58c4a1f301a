package pglocal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/pglocal"
)

// dataDir is a folder the postgres user can reach when the tests run as root.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pglocal-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "data")
}

func query(t *testing.T, s *pglocal.Server) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), s.URL("postgres"))
	require.NoError(t, err)
	defer conn.Close(t.Context())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT 41 + 1").Scan(&n))
	return n
}

func TestStartStopKeepsData(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	s, err := pglocal.Start(t.Context(), pglocal.Options{DataDir: dir})
	require.NoError(t, err)
	require.Equal(t, 42, query(t, s))
	conn, err := pgx.Connect(t.Context(), s.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), "CREATE TABLE kept (id int)")
	require.NoError(t, err)
	conn.Close(t.Context())
	require.NoError(t, s.Stop())
	require.NoFileExists(t, filepath.Join(dir, "postmaster.pid"))

	s, err = pglocal.Start(t.Context(), pglocal.Options{DataDir: dir})
	require.NoError(t, err)
	defer s.Stop()
	conn, err = pgx.Connect(t.Context(), s.URL("postgres"))
	require.NoError(t, err)
	defer conn.Close(t.Context())
	_, err = conn.Exec(t.Context(), "SELECT * FROM kept")
	require.NoError(t, err, "the data folder survives a restart")
}

func TestStalePidFileIsRemoved(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	s, err := pglocal.Start(t.Context(), pglocal.Options{DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, s.Stop())

	// A pid file naming a process that is not postgres (our own pid), as a
	// killed run leaves behind once the pid is reused.
	stale := fmt.Sprintf("%d\n%s\n", os.Getpid(), dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(stale), 0o600))
	s, err = pglocal.Start(t.Context(), pglocal.Options{DataDir: dir})
	require.NoError(t, err)
	defer s.Stop()
	require.Equal(t, 42, query(t, s))
}

func TestServerLeftRunningIsReplaced(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	first, err := pglocal.Start(t.Context(), pglocal.Options{DataDir: dir})
	require.NoError(t, err)
	defer first.Stop()

	// As after `kill -9` of portal dev: the old server still holds the folder.
	second, err := pglocal.Start(t.Context(), pglocal.Options{DataDir: dir})
	require.NoError(t, err)
	defer second.Stop()
	require.Equal(t, 42, query(t, second))
}
