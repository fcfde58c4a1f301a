package handlers

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

var tokenSecretRE = regexp.MustCompile(`data-testid="token-secret-box".*?value="(cdp_[A-Za-z0-9_-]+)"`)

// TestProfileTokens: a person makes a token on their profile page (the
// secret shown once), it works on the API, it is listed with its last
// use, and revoking it ends it.
func TestProfileTokens(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, apiEnvOptions{})
	alice, _ := env.signedIn("alice")
	page := alice.get("/")
	require.Contains(t, page.body, `data-testid="nav-tokens"`)

	page = alice.get("/profile/tokens")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `data-testid="tokens-none"`)

	missing := alice.postOnce("/profile/tokens", url.Values{"csrf_token": {alice.csrfToken()}, "name": {" "}, "scope": {"read"}})
	require.Equal(t, http.StatusUnprocessableEntity, missing.status)
	require.Contains(t, missing.body, `id="name-error"`)

	made := alice.postOnce("/profile/tokens", url.Values{"csrf_token": {alice.csrfToken()}, "name": {"deploy pipeline"},
		"scope": {"read", "request"}, "days": {"90"}})
	require.Equal(t, http.StatusOK, made.status, made.body)
	require.Equal(t, "no-store", made.header.Get("Cache-Control"))
	m := tokenSecretRE.FindStringSubmatch(made.body)
	require.NotNil(t, m, "the secret is shown")
	secret := m[1]

	require.Equal(t, http.StatusOK, env.call(secret, http.MethodGet, "/clusters", nil).status)
	page = alice.get("/profile/tokens")
	require.NotContains(t, page.body, secret, "shown once only")
	body := html.UnescapeString(page.body)
	require.Contains(t, body, "deploy pipeline")
	require.Contains(t, body, "read, request")
	require.NotContains(t, body, "never", "its last use is listed")

	bob, _ := env.signedIn("bob")
	var id string
	require.NoError(t, env.pool.QueryRow(t.Context(), "SELECT id::text FROM api_tokens WHERE name = 'deploy pipeline'").Scan(&id))
	require.Equal(t, http.StatusNotFound, bob.postOnce("/profile/tokens/"+id+"/revoke", url.Values{"csrf_token": {bob.csrfToken()}}).status,
		"nobody revokes someone else's token")
	revoked := alice.postOnce("/profile/tokens/"+id+"/revoke", url.Values{"csrf_token": {alice.csrfToken()}})
	require.Equal(t, http.StatusSeeOther, revoked.status)
	require.Contains(t, alice.get("/profile/tokens").body, `<td data-testid="token-status">revoked</td>`)
	require.Equal(t, http.StatusUnauthorized, env.call(secret, http.MethodGet, "/clusters", nil).status)
}
