package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/api"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
)

// TestAPIBearerTokens: the API takes a bearer token and nothing else; a
// revoked, expired, unknown or under-scoped token is refused; tokens are
// stored hashed, their use noted, their creation and revocation audited.
func TestAPIBearerTokens(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, apiEnvOptions{})
	secret, tok := env.token("alice")
	require.Equal(t, auth.TokenPrefix, secret[:len(auth.TokenPrefix)])

	t.Run("stored hashed, shown once", func(t *testing.T) {
		require.Zero(t, env.count("SELECT count(*) FROM api_tokens WHERE position($1 in encode(secret_hash, 'escape')) > 0 OR prefix = $1", secret))
		require.Equal(t, 1, env.count("SELECT count(*) FROM api_tokens WHERE secret_hash = sha256(convert_to($1, 'UTF8'))", secret))
		list, err := env.auth.Tokens(t.Context(), tok.UserID)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "alice-ci", list[0].Name)
		require.Nil(t, list[0].LastUsedAt, "not used yet")
	})

	t.Run("a session cookie alone is refused", func(t *testing.T) {
		b, _ := env.signedIn("alice")
		require.Equal(t, http.StatusOK, b.get("/requests").status, "the cookie works on the pages")
		resp := b.getOnce(APIPrefix + "/clusters")
		require.Equal(t, http.StatusUnauthorized, resp.status, resp.body)
		require.Contains(t, resp.header.Get("Content-Type"), "application/problem+json")
		require.Contains(t, resp.header.Get("WWW-Authenticate"), "Bearer")
		// A state change with the cookie and its CSRF token: refused too.
		post := b.postOnce(APIPrefix+"/requests", nil, "X-CSRF-Token", b.csrfToken())
		require.Equal(t, http.StatusUnauthorized, post.status, post.body)
	})

	t.Run("the token works and its use is noted", func(t *testing.T) {
		resp := env.call(secret, http.MethodGet, "/clusters", nil)
		require.Equal(t, http.StatusOK, resp.status, string(resp.body))
		list, err := env.auth.Tokens(t.Context(), tok.UserID)
		require.NoError(t, err)
		require.NotNil(t, list[0].LastUsedAt)
		require.NotEmpty(t, list[0].LastUsedIP)
	})

	t.Run("unknown routes and methods answer problems too", func(t *testing.T) {
		for _, c := range []struct {
			method, path string
			status       int
		}{{http.MethodGet, "/api/v1/nope", http.StatusNotFound}, {http.MethodDelete, "/api/v1/clusters", http.StatusNotFound}} {
			req, err := http.NewRequestWithContext(t.Context(), c.method, env.url+c.path, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, c.status, resp.StatusCode, c.path)
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), c.path)
		}
		// The web layer's own refusals too: a body over the limit.
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, env.url+"/api/v1/requests",
			strings.NewReader(strings.Repeat(" ", DefaultMaxBodyBytes+1)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	})

	t.Run("a token lacking the scope is refused", func(t *testing.T) {
		reader, _ := env.token("bob", auth.ScopeRead)
		resp := env.call(reader, http.MethodPost, "/requests", map[string]any{"kind": "stop", "cluster_uid": env.uid("analytics-staging"), "reason": "x"})
		require.Equal(t, http.StatusForbidden, resp.status)
		require.Equal(t, "insufficient-scope", resp.problem(t).Code)
	})

	t.Run("a person without the role is refused as on the pages", func(t *testing.T) {
		resp := env.call(secret, http.MethodGet, "/audit", nil)
		require.Equal(t, http.StatusForbidden, resp.status)
		require.Equal(t, "role-required", resp.problem(t).Code)
	})

	t.Run("a revoked token is refused", func(t *testing.T) {
		revoked, rtok := env.token("dave")
		require.Equal(t, http.StatusOK, env.call(revoked, http.MethodGet, "/clusters", nil).status)
		require.NoError(t, env.auth.RevokeToken(t.Context(), auth.User{ID: rtok.UserID, Username: "dave"}, rtok.ID, audit.Origin{}))
		resp := env.call(revoked, http.MethodGet, "/clusters", nil)
		require.Equal(t, http.StatusUnauthorized, resp.status)
		require.Equal(t, "invalid-token", resp.problem(t).Code)
		require.ErrorIs(t, env.auth.RevokeToken(t.Context(), auth.User{ID: tok.UserID}, rtok.ID, audit.Origin{}), auth.ErrTokenNotFound,
			"someone else's token is not found")
		require.Equal(t, 1, env.count("SELECT count(*) FROM audit_log WHERE action = 'auth.token_revoked'"))
	})

	t.Run("an expired or unknown token is refused", func(t *testing.T) {
		short, _, err := env.auth.CreateToken(t.Context(), auth.User{ID: tok.UserID}, auth.NewToken{Name: "short", Scopes: []auth.Scope{auth.ScopeRead}, Lifetime: time.Hour}, audit.Origin{})
		require.NoError(t, err)
		env.clock.Advance(2 * time.Hour)
		require.Equal(t, http.StatusUnauthorized, env.call(short, http.MethodGet, "/clusters", nil).status)
		require.Equal(t, http.StatusUnauthorized, env.call(auth.TokenPrefix+"nope", http.MethodGet, "/clusters", nil).status)
		require.Equal(t, http.StatusUnauthorized, env.call("not-a-jwt", http.MethodGet, "/clusters", nil).status, "machine tokens are off without an audience")
	})

	require.Equal(t, 4, env.count("SELECT count(*) FROM audit_log WHERE action = 'auth.token_created'"))
	require.Zero(t, env.count("SELECT count(*) FROM audit_log WHERE data::text LIKE '%' || $1 || '%'", secret[len(auth.TokenPrefix):]),
		"no secret in the audit log")
}

// TestAPIMachineTokens: a token of the OpenID provider naming the
// configured audience is a service identity with the token's groups; it
// files requests and never approves. A token for another audience (the
// portal's own sign-in) is refused.
func TestAPIMachineTokens(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, apiEnvOptions{audience: "clusterdesk-api"})
	alice, _ := env.token("alice")
	sessionIDToken := func(username string) string {
		var raw string
		require.NoError(t, env.pool.QueryRow(t.Context(), `
			SELECT s.id_token FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = $1
			ORDER BY s.created_at DESC LIMIT 1`, username).Scan(&raw))
		return raw
	}

	env.signedIn("bob")
	bobs := sessionIDToken("bob")
	resp := env.call(bobs, http.MethodGet, "/clusters", nil)
	require.Equal(t, http.StatusUnauthorized, resp.status, "a token for the portal's sign-in is not one for the API")

	// The provider issues a pipeline's token: its own subject, the API in
	// its audience, the developers group. (The development provider signs
	// people in only, so a sign-in carries it; the person row the sign-in
	// made is removed, as the portal would never have seen the pipeline.)
	env.idp.SetIDTokenTweak(devidp.Tweaks(
		devidp.SetClaim("sub", "ci-pipeline"), devidp.SetClaim("client_id", "ci-pipeline"),
		devidp.SetClaim("aud", []string{testClientID, "clusterdesk-api"}), devidp.SetClaim("azp", testClientID),
		devidp.SetClaim("groups", []string{"developers", "approvers"})))
	env.browser().signIn("mallory", "/")
	env.idp.SetIDTokenTweak(nil)
	var machine string
	require.NoError(t, env.pool.QueryRow(t.Context(), `
		SELECT s.id_token FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.subject = 'ci-pipeline'`).Scan(&machine))
	_, err := env.pool.Exec(t.Context(), "DELETE FROM users WHERE subject = 'ci-pipeline'")
	require.NoError(t, err)

	var r api.Request
	filed := env.call(machine, http.MethodPost, "/requests", map[string]any{"kind": "start", "cluster_uid": env.uid("clickstream-dev"), "reason": "Pipeline"})
	require.Equal(t, http.StatusCreated, filed.status, string(filed.body))
	filed.decode(t, &r)
	require.Equal(t, "service ci-pipeline", r.Requester.Name)
	require.Equal(t, 1, env.count("SELECT count(*) FROM users WHERE machine AND subject = 'ci-pipeline' AND groups = '{developers,approvers}'"))

	byAlice := env.call(alice, http.MethodPost, "/requests", map[string]any{"kind": "stop", "cluster_uid": env.uid("analytics-staging"), "reason": "Cost"})
	require.Equal(t, http.StatusCreated, byAlice.status, string(byAlice.body))
	var other api.Request
	byAlice.decode(t, &other)
	resp = env.call(machine, http.MethodPost, "/requests/"+strconv.FormatInt(other.ID, 10)+"/approve", map[string]any{"revision": 1})
	require.Equal(t, http.StatusForbidden, resp.status, "a machine never approves, though its groups grant the approver role")
	require.Equal(t, "insufficient-scope", resp.problem(t).Code)

	var events api.AuditPage
	erin, _ := env.token("erin")
	env.call(erin, http.MethodGet, "/audit?action=request.created&subject_id="+strconv.FormatInt(r.ID, 10), nil).decode(t, &events)
	require.Len(t, events.Items, 1)
	require.Equal(t, "service ci-pipeline (service token of ci-pipeline)", events.Items[0].Actor.Name)

	tampered := machine[:len(machine)-4] + "AAAA"
	require.Equal(t, http.StatusUnauthorized, env.call(tampered, http.MethodGet, "/clusters", nil).status)
}

// TestAPIRateLimit: past the rate, 429 with Retry-After.
func TestAPIRateLimit(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, apiEnvOptions{rate: 3})
	alice, _ := env.token("alice")
	for range 3 {
		require.Equal(t, http.StatusOK, env.call(alice, http.MethodGet, "/clusters", nil).status)
	}
	resp := env.call(alice, http.MethodGet, "/clusters", nil)
	require.Equal(t, http.StatusTooManyRequests, resp.status)
	require.Equal(t, "rate-limited", resp.problem(t).Code)
	require.Equal(t, "20", resp.header.Get("Retry-After"), "one call comes back every 20 s at 3 a minute")
	env.clock.Advance(20 * time.Second)
	require.Equal(t, http.StatusOK, env.call(alice, http.MethodGet, "/clusters", nil).status)

	env.clock.Advance(time.Minute)
	page := env.call(alice, http.MethodGet, "/clusters?limit=201", nil, "X-Off-Contract", "a page over the limit")
	require.Equal(t, http.StatusBadRequest, page.status, "a page over the limit is refused")
}
