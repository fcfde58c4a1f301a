package main

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// TestMigrateWaitHoldsUntilMigrated is the init container of the
// Kubernetes Deployments (deploy/kubernetes): it waits while the schema is
// behind and returns once the migration Job has run.
func TestMigrateWaitHoldsUntilMigrated(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"PORTAL_DATABASE_URL": testdb.NewEmpty(t)}
	out, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(t.Context(), []string{"migrate", "wait"}, envOf(vars), outW, io.Discard)
		outW.Close()
	}()
	first := bufio.NewScanner(out)
	require.True(t, first.Scan(), "wait says that it waits")
	require.Contains(t, first.Text(), "waiting for portal migrate up")
	require.Contains(t, first.Text(), "schema is behind")
	go func() { _, _ = io.Copy(io.Discard, out) }()
	select {
	case err := <-done:
		t.Fatalf("wait returned on a schema that is behind: %v", err)
	default:
	}

	require.NoError(t, run(t.Context(), []string{"migrate", "up"}, envOf(vars), io.Discard, io.Discard))
	require.NoError(t, <-done)

	var printed strings.Builder
	require.NoError(t, run(t.Context(), []string{"migrate", "wait"}, envOf(vars), &printed, io.Discard))
	require.Empty(t, printed.String(), "a current schema returns at once, silently")
}
