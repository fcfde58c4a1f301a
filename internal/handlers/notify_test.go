package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/notify"
)

func notifyEnv(t *testing.T) *signinEnv {
	t.Helper()
	env := newSigninEnv(t, signinOptions{})
	svc, err := notify.New(env.pool, notify.Config{BaseURL: env.url})
	require.NoError(t, err)
	env.server.deps.Notify = svc
	return env
}

// A person's preferences page shows the defaults and the address of their
// sign-in; unticking a kind turns its email off and nothing else.
func TestNotifyPreferencesSave(t *testing.T) {
	t.Parallel()
	env := notifyEnv(t)
	carol := env.browser()
	carol.signIn("carol", "")
	page := carol.get(notify.PreferencesPath)
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `data-testid="preferences-email">carol@example.com<`)
	require.Contains(t, page.body, `data-testid="pref-email-waiting" checked`)

	form := url.Values{"csrf_token": {carol.csrfToken()}}
	for _, k := range notify.Kinds() {
		if k != notify.KindWaiting {
			form.Set("email_"+string(k), "on")
		}
	}
	form.Set("digest_failed", "on")
	resp := carol.postOnce(notify.PreferencesPath, form)
	require.Equal(t, http.StatusSeeOther, resp.status)

	var id int64
	require.NoError(t, env.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE username = 'carol'`).Scan(&id))
	prefs, err := notify.Preferences(context.Background(), env.pool, id)
	require.NoError(t, err)
	for _, p := range prefs {
		require.Equal(t, p.Kind != notify.KindWaiting, p.Email, p.Kind)
		require.Equal(t, p.Kind == notify.KindFailed, p.Digest, p.Kind)
	}
	require.NotContains(t, carol.get(notify.PreferencesPath).body, `data-testid="pref-email-waiting" checked`)
}

// An admin adds a webhook: its secret is on the answer once, and never
// again, nor the path of its address; the addition is audited without
// them. Others may not see the page.
func TestNotifyAdminEndpointSecretShownOnce(t *testing.T) {
	t.Parallel()
	env := notifyEnv(t)
	dave := env.browser()
	dave.signIn("dave", "")
	resp := dave.postOnce("/admin/notifications/endpoints", url.Values{"csrf_token": {dave.csrfToken()},
		"kind": {"webhook"}, "name": {"cmdb"}, "url": {"https://hooks.example.com/in/T0KEN?sig=abc"}, "policy_id": {"0"}})
	require.Equal(t, http.StatusOK, resp.status)
	require.Contains(t, resp.body, `data-testid="endpoint-secret-value">whsec_`)
	require.Equal(t, "no-store", resp.header.Get("Cache-Control"))

	page := dave.get("/admin/notifications")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, "https://hooks.example.com")
	require.NotContains(t, page.body, "whsec_")
	require.NotContains(t, page.body, "T0KEN")
	require.Contains(t, page.body, `data-testid="deliveries-empty"`)

	bad := dave.postOnce("/admin/notifications/endpoints", url.Values{"csrf_token": {dave.csrfToken()},
		"kind": {"webhook"}, "name": {"cmdb"}, "url": {"https://hooks.example.com/other"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, bad.body, `an endpoint named &#34;cmdb&#34; exists`)

	var audited string
	require.NoError(t, env.pool.QueryRow(context.Background(),
		`SELECT data::text FROM audit_log WHERE action = 'notify.endpoint_added'`).Scan(&audited))
	require.Contains(t, audited, "hooks.example.com")
	require.False(t, strings.Contains(audited, "whsec_") || strings.Contains(audited, "T0KEN"), audited)

	carol := env.browser()
	carol.signIn("carol", "")
	require.Equal(t, http.StatusForbidden, carol.get("/admin/notifications").status)
}

// The menu counts answer out-of-band swaps for both badges.
func TestNotifyCounts(t *testing.T) {
	t.Parallel()
	env := notifyEnv(t)
	alice := env.browser()
	alice.signIn("alice", "")
	resp := alice.get("/notifications/counts")
	require.Equal(t, http.StatusOK, resp.status)
	require.Contains(t, resp.body, `id="nav-approvals-count" hx-swap-oob="true"`)
	require.Contains(t, resp.body, `id="nav-mine-count" hx-swap-oob="true"`)
	require.NotContains(t, resp.body, "nav-mine-count-value", "no open requests: no number")
}
