package config_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/config"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func validEnv() map[string]string {
	return map[string]string{"PORTAL_DATABASE_URL": "postgres://u:hunter2@localhost:5432/cd"}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(lookup(validEnv()))
	require.NoError(t, err)
	require.Equal(t, ":8080", cfg.ListenAddr)
	require.Equal(t, "http://localhost:8080", cfg.BaseURL)
	require.Equal(t, "json", cfg.LogFormat)
	require.Equal(t, 30*time.Second, cfg.ShutdownTimeout)
	require.Equal(t, time.Hour, cfg.AuditVerifyInterval)
	require.Zero(t, cfg.AuditRetentionYears)
	require.Equal(t, "postgres://u:hunter2@localhost:5432/cd", cfg.DatabaseURL.Reveal())
	require.False(t, cfg.Secure())
	require.Equal(t, 2<<20, cfg.MaxBodyBytes)
	require.Empty(t, cfg.TrustedProxies, "no proxy is trusted unless named")
	require.Equal(t, 120, cfg.RateLimitPerMinute)
}

func TestRateLimitPerMinute(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		raw     string
		want    int
		problem string
	}{
		{raw: "0", want: 0}, // off
		{raw: "5", want: 5},
		{raw: "10000", want: 10000},
		{raw: "-1", problem: "PORTAL_RATE_LIMIT_PER_MINUTE: want a number from 0 to 10000"},
		{raw: "10001", problem: "PORTAL_RATE_LIMIT_PER_MINUTE: want a number from 0 to 10000"},
		{raw: "lots", problem: "PORTAL_RATE_LIMIT_PER_MINUTE: want a whole number"},
	} {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			env["PORTAL_RATE_LIMIT_PER_MINUTE"] = tt.raw
			cfg, err := config.Load(lookup(env))
			if tt.problem != "" {
				require.ErrorContains(t, err, tt.problem)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.RateLimitPerMinute)
		})
	}
}

func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	env := validEnv()
	env["PORTAL_TRUSTED_PROXIES"] = " 10.1.2.3/8, 192.0.2.10 ,2001:db8::/32,"
	env["PORTAL_MAX_BODY_BYTES"] = "1048576"
	cfg, err := config.Load(lookup(env))
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), // masked
		netip.MustParsePrefix("192.0.2.10/32"),
		netip.MustParsePrefix("2001:db8::/32"),
	}, cfg.TrustedProxies)
	require.Equal(t, 1<<20, cfg.MaxBodyBytes)
}

func TestLoadProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings, one problem line each
	}{
		{"missing database", map[string]string{}, []string{"PORTAL_DATABASE_URL: required"}},
		{"nonsense database", map[string]string{"PORTAL_DATABASE_URL": "nonsense"}, []string{"PORTAL_DATABASE_URL: want a PostgreSQL URL"}},
		{"bad duration", map[string]string{"PORTAL_SHUTDOWN_TIMEOUT": "soon"}, []string{`PORTAL_SHUTDOWN_TIMEOUT: want a duration such as 30s, 5m or 12h, got "soon"`}},
		{"zero duration", map[string]string{"PORTAL_SHUTDOWN_TIMEOUT": "0s"}, []string{"PORTAL_SHUTDOWN_TIMEOUT: want a duration above zero"}},
		{"negative retention", map[string]string{"PORTAL_AUDIT_RETENTION_YEARS": "-1"}, []string{`PORTAL_AUDIT_RETENTION_YEARS: want zero or more, got "-1"`}},
		{"bad enum", map[string]string{"PORTAL_LOG_FORMAT": "xml"}, []string{`PORTAL_LOG_FORMAT: want one of json, text, got "xml"`}},
		{"bad url", map[string]string{"PORTAL_BASE_URL": "localhost:8080"}, []string{"PORTAL_BASE_URL: want an absolute http(s) URL"}},
		{"body limit too small", map[string]string{"PORTAL_MAX_BODY_BYTES": "100"}, []string{`PORTAL_MAX_BODY_BYTES: want a number from 1024 to 10485760, got "100"`}},
		{"body limit above Go's form limit", map[string]string{"PORTAL_MAX_BODY_BYTES": "20000000"}, []string{`PORTAL_MAX_BODY_BYTES: want a number from 1024 to 10485760, got "20000000"`}},
		{"bad proxy", map[string]string{"PORTAL_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"}, []string{`PORTAL_TRUSTED_PROXIES: want addresses or CIDRs such as 10.0.0.0/8 or 192.0.2.10, comma-separated, got "proxy.internal"`}},
		{"several at once", map[string]string{"PORTAL_DATABASE_URL": "x", "PORTAL_LOG_LEVEL": "loud"}, []string{"PORTAL_DATABASE_URL:", "PORTAL_LOG_LEVEL:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			if _, ok := tt.env["PORTAL_DATABASE_URL"]; !ok && tt.name == "missing database" {
				delete(env, "PORTAL_DATABASE_URL")
			}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := config.Load(lookup(env))
			var problems config.Problems
			require.True(t, errors.As(err, &problems), "want Problems, got %v", err)
			require.Len(t, problems, len(tt.want), problems.Error())
			for i, want := range tt.want {
				require.Contains(t, problems[i], want)
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	env := validEnv()
	env["PORTAL_DATABASE_URL"] = "mysql://root:hunter2@db/x"
	_, err := config.Load(lookup(env))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")

	cfg, err := config.Load(lookup(validEnv()))
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		require.NotContains(t, s, "hunter2")
	}
	var log strings.Builder
	cfg.Logger(&log).Info("config", "config", cfg, "db", cfg.DatabaseURL)
	require.NotContains(t, log.String(), "hunter2")
	require.Contains(t, log.String(), "[redacted]")
}

func TestSecretFromFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, os.WriteFile(path, []byte("postgres://u:fromfile@h/db\n"), 0o600))

	cfg, err := config.Load(lookup(map[string]string{"PORTAL_DATABASE_URL_FILE": path}))
	require.NoError(t, err)
	require.Equal(t, "postgres://u:fromfile@h/db", cfg.DatabaseURL.Reveal())

	_, err = config.Load(lookup(map[string]string{"PORTAL_DATABASE_URL_FILE": path, "PORTAL_DATABASE_URL": "postgres://h/db"}))
	require.ErrorContains(t, err, "not both")

	_, err = config.Load(lookup(map[string]string{"PORTAL_DATABASE_URL_FILE": path + ".missing"}))
	require.ErrorContains(t, err, "PORTAL_DATABASE_URL_FILE: cannot read the secret file")
}

// TestDocumentationMatches keeps docs/configuration.md and the struct in step:
// the same variables, in the same order, with the same defaults and secrecy.
func TestDocumentationMatches(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\| `(PORTAL_[A-Z0-9_]+)` \\|([^|]*)\\|([^|]*)\\|")
	var documented, declared []string
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, fmt.Sprintf("%s default=%s secret=%s", m[1], strings.TrimSpace(m[2]), strings.TrimSpace(m[3])))
	}
	for _, f := range config.Fields() {
		def := "(required)"
		if !f.Required {
			def = "`" + f.Default + "`"
			if f.Default == "" {
				def = "(empty)"
			}
		}
		secret := ""
		if f.Secret {
			secret = "yes"
		}
		declared = append(declared, fmt.Sprintf("%s default=%s secret=%s", f.Env, def, secret))
	}
	require.Equal(t, declared, documented, "docs/configuration.md and config.Config disagree")
}

func TestCheckServe(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(lookup(validEnv()))
	require.NoError(t, err)
	require.Equal(t, []string{"openid", "profile", "email"}, cfg.OIDCScopes)
	require.Empty(t, cfg.RequesterGroups, "empty: every signed-in person is a requester")
	require.Equal(t, []string{"approvers"}, cfg.ApproverGroups)
	require.Equal(t, 30*time.Minute, cfg.SessionIdleTimeout)
	require.Equal(t, 12*time.Hour, cfg.SessionAbsoluteTimeout)

	var problems config.Problems
	require.ErrorAs(t, cfg.CheckServe(), &problems)
	require.Len(t, problems, 4)
	require.Contains(t, problems[0], "PORTAL_OIDC_ISSUER: required by portal serve")
	require.Contains(t, problems[1], "PORTAL_OIDC_CLIENT_ID: required by portal serve")
	require.Contains(t, problems[2], "PORTAL_CLOUD_API_URL: required by portal serve")
	require.Contains(t, problems[3], "PORTAL_CLOUD_CLIENT_ID: the Cloud Manager API needs")

	env := validEnv()
	env["PORTAL_OIDC_ISSUER"] = "https://sso.example.com"
	env["PORTAL_OIDC_CLIENT_ID"] = "clusterdesk"
	env["PORTAL_CLOUD_API_URL"] = "https://acme.implycloud.com/api/v1"
	env["PORTAL_CLOUD_TOKEN"] = "static-token"
	env["PORTAL_APPROVER_GROUPS"] = " cab , platform-leads,"
	cfg, err = config.Load(lookup(env))
	require.NoError(t, err)
	require.NoError(t, cfg.CheckServe())
	require.Equal(t, []string{"cab", "platform-leads"}, cfg.ApproverGroups)

	env["PORTAL_OIDC_SCOPES"] = "profile"
	env["PORTAL_SESSION_IDLE_TIMEOUT"] = "13h"
	cfg, err = config.Load(lookup(env))
	require.NoError(t, err)
	require.ErrorAs(t, cfg.CheckServe(), &problems)
	require.Len(t, problems, 2)
	require.Contains(t, problems[0], "PORTAL_OIDC_SCOPES: must include openid")
	require.Contains(t, problems[1], "PORTAL_SESSION_IDLE_TIMEOUT: 13h0m0s is longer than PORTAL_SESSION_ABSOLUTE_TIMEOUT")

	env["PORTAL_OIDC_ISSUER"] = "sso.example.com"
	_, err = config.Load(lookup(env))
	require.ErrorContains(t, err, "PORTAL_OIDC_ISSUER: want an absolute http(s) URL")
}

// Timings that would let a change be sent twice stop the start: a job
// rescued, or a lost answer given up, while the client may still be
// waiting for that answer.
func TestCheckServeRefusesUnsafeTimings(t *testing.T) {
	t.Parallel()
	env := validEnv()
	env["PORTAL_OIDC_ISSUER"] = "https://sso.example.com"
	env["PORTAL_OIDC_CLIENT_ID"] = "clusterdesk"
	env["PORTAL_CLOUD_API_URL"] = "https://acme.implycloud.com/api/v1"
	env["PORTAL_CLOUD_TOKEN"] = "static-token"
	env["PORTAL_CLOUD_TIMEOUT"] = "1m"
	env["PORTAL_JOB_RESCUE_AFTER"] = "1m"
	env["PORTAL_CLOUD_SETTLE_TIME"] = "30s"
	cfg, err := config.Load(lookup(env))
	require.NoError(t, err)
	var problems config.Problems
	require.ErrorAs(t, cfg.CheckServe(), &problems)
	require.Len(t, problems, 2)
	require.Contains(t, problems[0], "PORTAL_JOB_RESCUE_AFTER: 1m0s must be longer than PORTAL_CLOUD_TIMEOUT (1m0s)")
	require.Contains(t, problems[1], "PORTAL_CLOUD_SETTLE_TIME: 30s must be at least PORTAL_CLOUD_TIMEOUT (1m0s)")

	env["PORTAL_JOB_RESCUE_AFTER"] = "2m"
	env["PORTAL_CLOUD_SETTLE_TIME"] = "1m"
	cfg, err = config.Load(lookup(env))
	require.NoError(t, err)
	require.NoError(t, cfg.CheckServe())
}
