package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// testEnv is a complete configuration for the real program: its own
// database, the development identity provider and the Cloud Manager
// simulator, both in-process over real HTTP, and a free port.
func testEnv(t *testing.T) map[string]string {
	t.Helper()
	vars, _ := testEnvSim(t)
	return vars
}

// testEnvSim is testEnv that also returns the simulator, for tests that
// inject faults or read its call log.
func testEnvSim(t *testing.T) (map[string]string, *sim.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	base := "http://" + addr

	_, idp := devidp.NewTestServer(t, devidp.Config{Clients: []devidp.Client{{
		ID: "portal-test", Secret: "portal-test-secret",
		RedirectURIs:           []string{base + auth.CallbackPath},
		PostLogoutRedirectURIs: []string{base + auth.SignedOutPath},
	}}})

	s, err := sim.New(sim.Config{ClientID: "sa", ClientSecret: "sa-secret", StageDuration: 10 * time.Millisecond, SeedDemo: true})
	require.NoError(t, err)
	simServer := httptest.NewServer(s)
	t.Cleanup(func() { simServer.Close(); _ = s.Close() })

	vars := map[string]string{
		"PORTAL_DATABASE_URL":        testdb.NewURL(t),
		"PORTAL_LISTEN_ADDR":         addr,
		"PORTAL_BASE_URL":            base,
		"PORTAL_OIDC_ISSUER":         idp.URL,
		"PORTAL_OIDC_CLIENT_ID":      "portal-test",
		"PORTAL_OIDC_CLIENT_SECRET":  "portal-test-secret",
		"PORTAL_CLOUD_API_URL":       s.APIURL(simServer.URL),
		"PORTAL_CLOUD_TOKEN_URL":     s.TokenURL(simServer.URL),
		"PORTAL_CLOUD_CLIENT_ID":     "sa",
		"PORTAL_CLOUD_CLIENT_SECRET": "sa-secret",
		// Tests run side by side: a port of the system's choice each.
		"PORTAL_METRICS_ADDR": "127.0.0.1:0",
	}
	return vars, s
}

func envOf(vars map[string]string) lookupFunc {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok && v != ""
	}
}

// start runs the real program in the background and returns its base URL
// once it listens, and a function that stops it and returns its error.
func start(t *testing.T, args []string, vars map[string]string) (string, func() error) {
	t.Helper()
	addr, _, stop := startWith(t, args, vars, io.Discard)
	return addr, stop
}

// startWith is start with the program's log lines written to stderr; it
// also returns the metrics URL the program printed before listening ("" when
// it serves none).
func startWith(t *testing.T, args []string, vars map[string]string, stderr io.Writer) (addr, metricsURL string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, envOf(vars), outW, stderr)
		outW.Close()
	}()
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "portal: metrics on "); ok {
			metricsURL = u
		}
		if addr, ok := strings.CutPrefix(lines.Text(), "portal: listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			stop := sync.OnceValue(func() error { cancel(); return <-done })
			t.Cleanup(func() { _ = stop() })
			return addr, metricsURL, stop
		}
	}
	cancel()
	t.Fatalf("portal exited before listening: %v", <-done)
	return "", "", nil
}

func TestServeStartsAndStopsGracefully(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	base, stop := start(t, []string{"serve"}, vars)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}

	// The worker runs too: its first inventory sync copies the simulator's
	// demo clusters into PostgreSQL.
	pool, err := database.Open(t.Context(), vars["PORTAL_DATABASE_URL"])
	require.NoError(t, err)
	defer pool.Close()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var names []string
		err := pool.QueryRow(t.Context(), "SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM clusters").Scan(&names)
		require.NoError(c, err)
		require.Equal(c, []string{"analytics-prod", "analytics-staging", "clickstream-dev"}, names)
	}, 20*time.Second, 100*time.Millisecond)
	require.NoError(t, stop())
	_, err = http.Get(base + "/healthz")
	require.Error(t, err, "the server must be gone after stop")
}

func TestServeRefusesUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	vars["PORTAL_DATABASE_URL"] = testdb.NewEmpty(t)
	err := run(t.Context(), []string{"serve"}, envOf(vars), io.Discard, io.Discard)
	require.ErrorContains(t, err, "schema is behind")
	require.ErrorContains(t, err, "portal migrate up")
}

func TestServeRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"serve"}, envOf(map[string]string{"PORTAL_DATABASE_URL": "nonsense"}), io.Discard, io.Discard)
	var problems config.Problems
	require.True(t, errors.As(err, &problems), "a config problem exits 2: %v", err)
	require.Contains(t, err.Error(), "PORTAL_DATABASE_URL")
}

// A presets file that cannot be read is a configuration problem, found
// before anything connects: here the database does not even exist.
func TestServeRejectsABadPresetsFile(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	vars["PORTAL_DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"
	vars["PORTAL_PRESETS_FILE"] = filepath.Join(t.TempDir(), "missing.json")
	err := run(t.Context(), []string{"serve"}, envOf(vars), io.Discard, io.Discard)
	var problems config.Problems
	require.True(t, errors.As(err, &problems), "a config problem exits 2: %v", err)
	require.Contains(t, err.Error(), "PORTAL_PRESETS_FILE: ")
	require.Contains(t, err.Error(), "missing.json")
}

func TestMigrateUpThenServe(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	vars["PORTAL_DATABASE_URL"] = testdb.NewEmpty(t)
	var status strings.Builder
	require.NoError(t, run(t.Context(), []string{"migrate", "status"}, envOf(vars), &status, io.Discard))
	require.Contains(t, status.String(), "00001_river.sql")
	require.Contains(t, status.String(), "pending")

	require.NoError(t, run(t.Context(), []string{"migrate", "up"}, envOf(vars), io.Discard, io.Discard))
	status.Reset()
	require.NoError(t, run(t.Context(), []string{"migrate", "status"}, envOf(vars), &status, io.Discard))
	require.NotContains(t, status.String(), "pending")

	base, _ := start(t, []string{"serve"}, vars)
	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestUsage(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	require.NoError(t, run(t.Context(), []string{"help"}, envOf(nil), &out, io.Discard))
	for _, cmd := range commands() {
		require.Contains(t, out.String(), cmd.name)
	}
	out.Reset()
	require.NoError(t, run(t.Context(), []string{"serve", "-h"}, envOf(nil), &out, io.Discard))
	require.Contains(t, out.String(), "Usage: portal serve")

	var usage usageError
	require.ErrorAs(t, run(t.Context(), []string{"frobnicate"}, envOf(nil), io.Discard, io.Discard), &usage)
	require.ErrorAs(t, run(t.Context(), []string{"migrate"}, envOf(nil), io.Discard, io.Discard), &usage)
	require.ErrorAs(t, run(t.Context(), []string{"serve", "-nope"}, envOf(nil), io.Discard, io.Discard), &usage)
}
