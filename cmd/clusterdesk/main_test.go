package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestReadChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := &cli{}
	for _, tt := range []struct {
		name, content string
		patch, spec   string
		reason        string
	}{
		{"patch.yaml", "data:\n  tier1:\n    replicas: 3\n", `{"data":{"tier1":{"replicas":3}}}`, "", ""},
		{"patch.json", `{"deepStorage": {"path": "s3://b/x"}}`, `{"deepStorage":{"path":"s3://b/x"}}`, "", ""},
		{"wrapped.yaml", "reason: More data\npatch:\n  data:\n    tier1:\n      replicas: 3\n", `{"data":{"tier1":{"replicas":3}}}`, "", "More data"},
		{"spec.json", `{"spec": {"version": "2025.01"}, "seen_resource_version": 4}`, "", `{"version":"2025.01"}`, ""},
	} {
		path := filepath.Join(dir, tt.name)
		require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
		ch, err := c.readChange(path)
		require.NoError(t, err, tt.name)
		if tt.patch != "" {
			require.JSONEq(t, tt.patch, string(ch.Patch), tt.name)
		}
		if tt.spec != "" {
			require.JSONEq(t, tt.spec, string(ch.Spec), tt.name)
			require.Equal(t, int64(4), *ch.SeenResourceVersion)
		}
		require.Equal(t, tt.reason, ch.Reason, tt.name)
	}
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("patch: {}\nstate: approved\n"), 0o600))
	_, err := c.readChange(bad)
	require.ErrorContains(t, err, "unknown field", "a misspelt member is refused, not ignored")
}

func TestSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"url": "https://file.example/", "token": "cdp_file"}`), 0o600))
	g := globals{tokenEnv: "CLUSTERDESK_TOKEN", config: file, output: "table"}

	s, err := g.load(envMap(map[string]string{}))
	require.NoError(t, err)
	require.Equal(t, settings{url: "https://file.example", token: "cdp_file"}, s, "from the file")

	s, err = g.load(envMap(map[string]string{"CLUSTERDESK_URL": "https://env.example", "CLUSTERDESK_TOKEN": "cdp_env"}))
	require.NoError(t, err)
	require.Equal(t, settings{url: "https://env.example", token: "cdp_env"}, s, "the environment first")

	g.config = filepath.Join(dir, "missing.json")
	_, err = g.load(envMap(map[string]string{"CLUSTERDESK_URL": "https://env.example"}))
	require.Error(t, err, "a named config file must exist")
}

func TestUsageMistakesExit2(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	home := map[string]string{"HOME": t.TempDir()}
	require.Equal(t, exitUsage, run(t.Context(), []string{"frobnicate"}, envMap(home), nil, &out, &errOut))
	require.Contains(t, errOut.String(), `unknown command "frobnicate"`)
	errOut.Reset()
	require.Equal(t, exitUsage, run(t.Context(), []string{"clusters", "list"}, envMap(home), nil, &out, &errOut))
	require.Contains(t, errOut.String(), "no portal URL")
	errOut.Reset()
	require.Equal(t, exitUsage, run(t.Context(), []string{"--url", "http://x", "approve", "abc"}, envMap(home), nil, &out, &errOut))
	require.Equal(t, exitOK, run(t.Context(), []string{"help"}, envMap(home), nil, &out, &errOut))
	require.True(t, strings.Contains(out.String(), "request update CLUSTER -f"))
}
