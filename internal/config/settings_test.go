package config_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/config"
)

// The configuration printed at start names every variable with its
// effective value, and no secret's value ever appears in it, whether the
// secret came from its variable or from its _FILE, in JSON or text.
func TestPrintedConfigurationRedactsSecrets(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"PORTAL_DATABASE_URL":        "postgres://portal:db-hunter2@db.internal:5432/clusterdesk",
		"PORTAL_OIDC_CLIENT_SECRET":  "oidc-s3cret-value",
		"PORTAL_CLOUD_CLIENT_SECRET": "cloud-s3cret-value",
	}
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte("static-t0ken-value\n"), 0o600))
	env := map[string]string{
		"PORTAL_CLOUD_TOKEN_FILE": file,
		"PORTAL_APPROVER_GROUPS":  "cab,leads",
		"PORTAL_TRUSTED_PROXIES":  "10.0.0.0/8",
		"PORTAL_SLOW_REQUEST":     "250ms",
	}
	for k, v := range secrets {
		env[k] = v
	}
	secrets["PORTAL_CLOUD_TOKEN"] = "static-t0ken-value"
	cfg, err := config.Load(lookup(env))
	require.NoError(t, err)

	for _, format := range []string{"json", "text"} {
		cfg.LogFormat = format
		var out bytes.Buffer
		cfg.Logger(&out).Info("configuration", "settings", cfg)
		printed := out.String()
		for name, value := range secrets {
			require.NotContains(t, printed, value, "%s's value printed in %s", name, format)
		}
		require.NotContains(t, printed, "db-hunter2")
		for _, f := range config.Fields() {
			require.Contains(t, printed, f.Env, "every setting is listed")
		}
		if format != "json" {
			continue
		}
		var line struct {
			Settings map[string]string `json:"settings"`
		}
		require.NoError(t, json.Unmarshal(out.Bytes(), &line), printed)
		require.Equal(t, "[redacted]", line.Settings["PORTAL_DATABASE_URL"])
		require.Equal(t, "[redacted]", line.Settings["PORTAL_CLOUD_TOKEN"])
		require.Equal(t, "", line.Settings["PORTAL_CLOUD_TOKEN_URL"], "unset is shown as empty")
		require.Equal(t, "cab,leads", line.Settings["PORTAL_APPROVER_GROUPS"])
		require.Equal(t, "10.0.0.0/8", line.Settings["PORTAL_TRUSTED_PROXIES"])
		require.Equal(t, "250ms", line.Settings["PORTAL_SLOW_REQUEST"])
		require.Equal(t, "30s", line.Settings["PORTAL_SHUTDOWN_TIMEOUT"])
	}
}

func TestSlowRequestThreshold(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(lookup(validEnv()))
	require.NoError(t, err)
	require.Equal(t, time.Second, cfg.SlowRequest, "default")

	env := validEnv()
	env["PORTAL_SLOW_REQUEST"] = "0"
	cfg, err = config.Load(lookup(env))
	require.NoError(t, err)
	require.Zero(t, cfg.SlowRequest, "0 switches the log off")

	env["PORTAL_SLOW_REQUEST"] = "-1s"
	_, err = config.Load(lookup(env))
	require.ErrorContains(t, err, "PORTAL_SLOW_REQUEST: want a duration of zero or more")
}
