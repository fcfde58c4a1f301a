package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCLIEndToEnd runs the built command-line client (cmd/clusterdesk)
// against the real program: alice makes a token on her profile page and
// files an update with --wait; carol approves with her own token; alice's
// client shows the plan, follows the change and exits 0 once it converged.
// A revoked token is refused, and so is a session cookie on /api/v1.
func TestCLIEndToEnd(t *testing.T) {
	t.Parallel()
	bin := buildCLI(t)
	vars := testEnv(t)
	base, _ := start(t, []string{"serve"}, vars)

	alice := signedIn(t, base, "/", "alice")
	carol := signedIn(t, base, "/", "carol")
	aliceToken := makeToken(t, alice, "laptop", "read", "request")
	carolToken := makeToken(t, carol, "approvals", "read", "approve")

	dir := t.TempDir()
	change := filepath.Join(dir, "change.yaml")
	require.NoError(t, os.WriteFile(change, []byte("# tier 1: one more server\ndata:\n  tier1:\n    replicas: 3\n"), 0o600))

	// The worker's first inventory sync lists the simulator's clusters.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		out, errOut, status := runCLI(t, bin, base, aliceToken, "clusters", "list")
		require.Equal(t, 0, status, errOut)
		if strings.Contains(out, "analytics-staging") {
			require.Contains(t, out, "NAME", "a table for people")
			break
		}
		require.True(t, time.Now().Before(deadline), "the inventory was never synced")
	}

	// alice files and waits; the client runs until the change ends.
	var aliceOut, aliceErr bytes.Buffer
	filing := cliCommand(t, bin, base, aliceToken, &aliceOut, &aliceErr,
		"request", "update", "analytics-staging", "-f", change, "--reason", "More data for the quarter", "--wait", "--interval", "100ms")
	require.NoError(t, filing.Start())
	exited := make(chan error, 1)
	go func() { exited <- filing.Wait() }()

	// carol finds it among the requests awaiting her and approves it.
	id := ""
	deadline := time.Now().Add(time.Minute)
	for id == "" && time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("alice's client ended before an approval (%v):\n%s\n%s", err, aliceOut.String(), aliceErr.String())
		default:
		}
		out, _, status := runCLI(t, bin, base, carolToken, "-o", "json", "request", "list", "--awaiting")
		require.Equal(t, 0, status, out)
		var list []struct {
			ID int64 `json:"id"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &list), out)
		if len(list) == 1 {
			id = jsonNumber(list[0].ID)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NotEmpty(t, id, "the request reached carol's queue")
	out, errOut, status := runCLI(t, bin, base, carolToken, "approve", id, "--comment", "fine")
	require.Equal(t, 0, status, out+errOut)
	require.Contains(t, out, "Approved request "+id)

	select {
	case err := <-exited:
		require.NoError(t, err, "alice's client exits 0 once the change converged:\n%s\n%s", aliceOut.String(), aliceErr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("the client did not finish:\n%s", aliceOut.String())
	}
	printed := aliceOut.String()
	t.Log(printed)
	require.Contains(t, printed, "Plan for analytics-staging:")
	require.Contains(t, printed, "~ spec.data.tier1.replicas: 2 → 3")
	require.Contains(t, printed, "request "+id+": pending, 0 of 1 approvals")
	require.Contains(t, printed, "request "+id+": succeeded, 1 of 1 approvals")
	require.Contains(t, printed, "Request "+id+" converged.")

	// The audit log shows the token's name.
	erin := signedIn(t, base, "/", "erin")
	erinToken := makeToken(t, erin, "audit", "read")
	export := filepath.Join(dir, "audit.jsonl")
	_, errOut, status = runCLI(t, bin, base, erinToken, "audit", "export", "--since", "2000-01-01", "--format", "jsonl", "--out", export)
	require.Equal(t, 0, status, errOut)
	raw, err := os.ReadFile(export)
	require.NoError(t, err)
	require.Contains(t, string(raw), `Alice Anderson (token \"laptop\")`)
	out, errOut, status = runCLI(t, bin, base, "", "audit", "verify", export)
	require.Equal(t, 0, status, out+errOut)
	require.True(t, strings.HasPrefix(out, "ok, "), out)

	// Revoked: refused.
	tokens := alice.getBody(t, "/profile/tokens")
	tokenID := regexp.MustCompile(`action="/profile/tokens/(\d+)/revoke"`).FindStringSubmatch(tokens)
	require.NotNil(t, tokenID)
	require.Equal(t, http.StatusSeeOther, alice.post(t, "/profile/tokens/"+tokenID[1]+"/revoke", url.Values{}).StatusCode)
	_, errOut, status = runCLI(t, bin, base, aliceToken, "clusters", "list")
	require.Equal(t, 1, status)
	require.Contains(t, errOut, "401 invalid-token")

	// A session cookie without a token: refused on /api/v1.
	resp := alice.get(t, "/api/v1/clusters")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, http.StatusOK, alice.get(t, "/clusters").StatusCode, "while the pages take it")
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// buildCLI builds cmd/clusterdesk as the static binary it is shipped as.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "clusterdesk")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "../clusterdesk")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

func cliCommand(t *testing.T, bin, base, token string, stdout, stderr io.Writer, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = []string{"CLUSTERDESK_URL=" + base, "CLUSTERDESK_TOKEN=" + token, "HOME=" + t.TempDir()}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd
}

// runCLI runs the client to its end: its output, errors and exit status.
func runCLI(t *testing.T, bin, base, token string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := cliCommand(t, bin, base, token, &out, &errOut, args...).Run()
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		return out.String(), errOut.String(), exit.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), errOut.String(), 0
}

// makeToken makes a token on p's profile page and returns the secret it
// shows once.
func makeToken(t *testing.T, p *person, name string, scopes ...string) string {
	t.Helper()
	form := url.Values{"name": {name}, "scope": scopes, "days": {"7"}, "csrf_token": {p.csrf}}
	req, err := http.NewRequestWithContext(context.WithoutCancel(t.Context()), http.MethodPost, p.base+"/profile/tokens", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.base)
	resp, err := p.hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	m := regexp.MustCompile(`data-testid="token-secret-box".*?value="(cdp_[A-Za-z0-9_-]+)"`).FindStringSubmatch(string(body))
	require.NotNil(t, m, "the page shows the token")
	return m[1]
}

func (p *person) getBody(t *testing.T, path string) string {
	t.Helper()
	resp, err := p.hc.Get(p.base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}
