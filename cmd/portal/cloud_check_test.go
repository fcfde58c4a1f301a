package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// cloudCheck runs `portal cloud check` against a simulator started with
// cfg and the portal's variables vars (PORTAL_CLOUD_* only: the check
// needs no database), and returns its output, the simulator and its error.
func cloudCheck(t *testing.T, cfg sim.Config, vars map[string]string) (string, *sim.Server, error) {
	t.Helper()
	cfg.SeedDemo, cfg.StageDuration = true, 10*time.Millisecond
	s, err := sim.New(cfg)
	require.NoError(t, err)
	api := httptest.NewServer(s)
	t.Cleanup(func() { api.Close(); _ = s.Close() })
	env := map[string]string{
		"PORTAL_CLOUD_API_URL":       s.APIURL(api.URL),
		"PORTAL_CLOUD_TOKEN_URL":     s.TokenURL(api.URL),
		"PORTAL_CLOUD_CLIENT_ID":     "clusterdesk",
		"PORTAL_CLOUD_CLIENT_SECRET": "clusterdesk-sim-secret",
		"PORTAL_LOG_LEVEL":           "error",
	}
	for k, v := range vars {
		env[k] = v
	}
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"cloud", "check"}, envOf(env), &stdout, &stderr)
	return stdout.String(), s, err
}

// line returns the report line of the assumption that contains what.
func line(t *testing.T, out, what string) string {
	t.Helper()
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, what) {
			return l
		}
	}
	t.Fatalf("no line about %q in:\n%s", what, out)
	return ""
}

// Against the simulator as it starts by default, every assumption that can
// be checked read-only is confirmed, and nothing in the simulator changed.
func TestCloudCheckConfirmsTheDefaults(t *testing.T) {
	t.Parallel()
	out, s, err := cloudCheck(t, sim.Config{}, nil)
	require.NoError(t, err, out)
	require.Contains(t, out, " 0 contradicted")
	for _, what := range []string{"list clusters", "decodes", "is metadata.uid", "status.state", "status.status",
		"History", "merge patch", "PUT of the document", "Restart route", "changes nothing"} {
		require.True(t, strings.HasPrefix(line(t, out, what), "confirmed"), "%s:\n%s", what, out)
	}
	for _, c := range s.Calls() {
		require.False(t, c.Mutated, "the check changed something: %s %s", c.Method, c.Path)
		require.True(t, c.Method == "GET" || strings.Contains(c.Path, "dryRun=true") || c.Operation == sim.OpToken,
			"a call that is neither a GET nor a dry run: %s %s", c.Method, c.Path)
	}
}

// A tenant whose running clusters are RUNNING, with the portal told only
// STARTED: the check says so, with the clusters it saw, and fails.
func TestCloudCheckFindsAnotherRunningStateName(t *testing.T) {
	t.Parallel()
	out, _, err := cloudCheck(t, sim.Config{RunningState: "RUNNING"}, map[string]string{"PORTAL_CLOUD_RUNNING_STATES": "STARTED"})
	require.ErrorIs(t, err, errContradicted)
	states := line(t, out, "status.state")
	require.True(t, strings.HasPrefix(states, "contradicted"), out)
	require.Contains(t, states, `analytics-prod: "RUNNING"`)

	// With both names (the default), the same tenant is confirmed.
	out, _, err = cloudCheck(t, sim.Config{RunningState: "RUNNING"}, nil)
	require.NoError(t, err, out)
	require.True(t, strings.HasPrefix(line(t, out, "status.state"), "confirmed"), out)
}

// A tenant that restarts servers under another route than the configured
// one: the probe (a server that cannot exist) answers like a route that
// does not exist, and the check says so.
func TestCloudCheckFindsAnotherRestartRoute(t *testing.T) {
	t.Parallel()
	out, s, err := cloudCheck(t, sim.Config{RestartRoute: "DELETE /clusters/{clusterId}/servers/{instanceId}"}, nil)
	require.ErrorIs(t, err, errContradicted)
	route := line(t, out, "Restart route")
	require.True(t, strings.HasPrefix(route, "contradicted"), out)
	require.Contains(t, route, "as a route that does not exist does")

	// Configured as the tenant has it, the route is confirmed.
	out, _, err = cloudCheck(t, sim.Config{RestartRoute: "DELETE /clusters/{clusterId}/servers/{instanceId}"},
		map[string]string{"PORTAL_CLOUD_RESTART_ROUTE": "DELETE /clusters/{clusterId}/servers/{instanceId}"})
	require.NoError(t, err, out)
	require.True(t, strings.HasPrefix(line(t, out, "Restart route"), "confirmed"), out)
	for _, c := range s.Calls() {
		require.False(t, c.Mutated, "the check changed something: %s %s", c.Method, c.Path)
	}
}

// A tenant that fills defaults into what it stores, with the portal told it
// does not: the PUT dry run's answer shows the added members.
func TestCloudCheckFindsFilledDefaults(t *testing.T) {
	t.Parallel()
	out, _, err := cloudCheck(t, sim.Config{FillDefaults: true}, nil)
	require.ErrorIs(t, err, errContradicted, out)
	fills := line(t, out, "PORTAL_CLOUD_FILLS_DEFAULTS")
	require.True(t, strings.HasPrefix(fills, "contradicted"), out)
	require.Contains(t, fills, "comes back with spec.")

	out, _, err = cloudCheck(t, sim.Config{FillDefaults: true}, map[string]string{"PORTAL_CLOUD_FILLS_DEFAULTS": "true"})
	require.NoError(t, err, out)
}

// Bad assumptions are configuration problems, found before any call.
func TestCloudCheckRefusesABadRoute(t *testing.T) {
	t.Parallel()
	_, s, err := cloudCheck(t, sim.Config{}, map[string]string{"PORTAL_CLOUD_RESTART_ROUTE": "POST /clusters/{clusterId}/restart"})
	require.Error(t, err)
	require.Contains(t, err.Error(), "PORTAL_CLOUD_RESTART_ROUTE")
	require.Empty(t, s.Calls())
}

// The operator's path end to end, through the command line only: `portal
// sim` started to contradict two assumptions, then `portal cloud check`
// with the default settings against it.
func TestCloudCheckAgainstPortalSimFromTheCommandLine(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithCancel(t.Context())
	out, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sim", "-addr", addr, "-stage", "10ms", "-running-state", "RUNNING",
			"-restart-route", "DELETE /clusters/{clusterId}/servers/{instanceId}"}, envOf(nil), outW, io.Discard)
		outW.Close()
	}()
	t.Cleanup(func() { cancel(); <-done })
	var api, token string
	lines := bufio.NewScanner(out)
	for token == "" && lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "portal sim: API "); ok {
			api = v
		}
		if v, ok := strings.CutPrefix(lines.Text(), "portal sim: token URL "); ok {
			token, _, _ = strings.Cut(v, " ")
		}
	}
	require.NotEmpty(t, token, "portal sim printed no URLs")
	go func() { _, _ = io.Copy(io.Discard, out) }()

	env := envOf(map[string]string{"PORTAL_CLOUD_API_URL": api, "PORTAL_CLOUD_TOKEN_URL": token,
		"PORTAL_CLOUD_CLIENT_ID": simClientID, "PORTAL_CLOUD_CLIENT_SECRET": simClientSecret,
		"PORTAL_CLOUD_RUNNING_STATES": "STARTED"})
	var stdout bytes.Buffer
	err = run(t.Context(), []string{"cloud", "check"}, env, &stdout, io.Discard)
	require.ErrorIs(t, err, errContradicted)
	report := stdout.String()
	require.True(t, strings.HasPrefix(line(t, report, "status.state"), "contradicted"), report)
	require.True(t, strings.HasPrefix(line(t, report, "Restart route"), "contradicted"), report)
	require.Contains(t, report, "2 contradicted")

	// A bad rule name is a usage error that lists the known ones.
	err = run(t.Context(), []string{"sim", "-rules", "no-such-rule=off"}, envOf(nil), io.Discard, io.Discard)
	var usage usageError
	require.ErrorAs(t, err, &usage)
	require.Contains(t, err.Error(), "master-ha")
}
