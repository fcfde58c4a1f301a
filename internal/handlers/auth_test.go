package handlers

import (
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
)

func TestSignInLandsOnThePageAskedFor(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()

	// Asking for a page without a session goes to sign-in, remembering it.
	r := b.getOnce("/?from=chat")
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, "/auth/login?next=%2F%3Ffrom%3Dchat", r.header.Get("Location"))

	// The provider is asked for the code flow with PKCE S256, state and nonce.
	r = b.getOnce(r.header.Get("Location"))
	require.Equal(t, http.StatusSeeOther, r.status)
	authz, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(authz.String(), env.idp.Issuer()), authz.String())
	q := authz.Query()
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.Len(t, q.Get("code_challenge"), 43)
	require.GreaterOrEqual(t, len(q.Get("state")), 43)
	require.GreaterOrEqual(t, len(q.Get("nonce")), 43)
	require.NotEqual(t, q.Get("state"), q.Get("nonce"))
	require.Equal(t, env.url+auth.CallbackPath, q.Get("redirect_uri"))
	require.Contains(t, strings.Fields(q.Get("scope")), "openid")

	// Signing in as bob ends on that page, with his name and roles.
	page := b.signIn("bob", "/?from=chat")
	require.Equal(t, http.StatusOK, page.status, page.body)
	require.Equal(t, "/", page.url.Path)
	require.Equal(t, "from=chat", page.url.RawQuery)
	require.Contains(t, page.body, `data-testid="current-user"`)
	require.Contains(t, page.body, "Bob Brown")
	require.Regexp(t, `data-testid="current-roles"><span>requester</span><span>approver</span></span>`, page.body)
	require.Contains(t, page.body, `data-testid="sign-out"`)

	// The session id is 256 bits; only its SHA-256 is in the database.
	id := b.cookie(sessionCookieName)
	require.Len(t, id, 43)
	var stored []byte
	require.NoError(t, env.pool.QueryRow(t.Context(), "SELECT id_hash FROM sessions").Scan(&stored))
	sum := sha256.Sum256([]byte(id))
	require.Equal(t, sum[:], stored)
	require.Empty(t, b.cookie(loginCookieName), "the sign-in cookie is used up")
	require.Equal(t, 1, env.countRows("login_attempts"), "only the attempt abandoned above is left; the one used is gone")

	// The person is keyed by issuer and subject, with what the provider said.
	var issuer, subject, username, email string
	var groups []string
	require.NoError(t, env.pool.QueryRow(t.Context(),
		"SELECT issuer, subject, username, email, groups FROM users").Scan(&issuer, &subject, &username, &email, &groups))
	require.Equal(t, []string{env.idp.Issuer(), "devidp-bob", "bob", "bob@example.com"}, []string{issuer, subject, username, email})
	require.Equal(t, []string{"developers", "approvers"}, groups)

	require.Equal(t, []auth.EventKind{auth.EventLogin}, env.events.kinds())
	require.Regexp(t, `"msg":"security event","event":"auth.login","at":"[^"]+Z","request_id":"[0-9a-f]+","remote_ip":"127.0.0.1","user_id":\d+,"username":"bob","subject":"devidp-bob"`, env.logs.String())
}

func TestSignInSessionCookie(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[tls], func(t *testing.T) {
			t.Parallel()
			env := newSigninEnv(t, signinOptions{tls: tls})
			b := env.browser()
			callback := b.startSignIn("alice")
			r := b.getOnce(callback.String())
			require.Equal(t, http.StatusSeeOther, r.status, r.body)

			name := sessionCookieName
			if tls {
				name = "__Host-" + sessionCookieName
			}
			var cookie *http.Cookie
			for _, c := range (&http.Response{Header: r.header}).Cookies() {
				if c.Name == name && c.Value != "" {
					cookie = c
				}
			}
			require.NotNil(t, cookie, "Set-Cookie: %v", r.header.Values("Set-Cookie"))
			require.True(t, cookie.HttpOnly)
			require.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
			require.Equal(t, "/", cookie.Path)
			require.Empty(t, cookie.Domain)
			require.Equal(t, tls, cookie.Secure)
			require.Zero(t, cookie.MaxAge, "a browser-session cookie; the server decides when it ends")
			for _, line := range r.header.Values("Set-Cookie") {
				if tls {
					require.True(t, strings.HasPrefix(line, "__Host-"), line)
				}
			}
		})
	}
}

func TestSignInRefusesBadState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		callback     func(t *testing.T, env *signinEnv, b *browser, cb *url.URL) response
		wantSessions int // sessions after the refused callback
	}{
		{"missing state", func(t *testing.T, _ *signinEnv, b *browser, cb *url.URL) response {
			q := cb.Query()
			q.Del("state")
			cb.RawQuery = q.Encode()
			return b.getOnce(cb.String())
		}, 0},
		{"wrong state", func(t *testing.T, _ *signinEnv, b *browser, cb *url.URL) response {
			q := cb.Query()
			state := q.Get("state")
			last := map[bool]string{true: "y", false: "x"}[strings.HasSuffix(state, "x")]
			q.Set("state", state[:len(state)-1]+last) // one character off
			cb.RawQuery = q.Encode()
			return b.getOnce(cb.String())
		}, 0},
		{"no sign-in cookie (callback in another browser)", func(t *testing.T, env *signinEnv, _ *browser, cb *url.URL) response {
			return env.browser().getOnce(cb.String())
		}, 0},
		{"replayed callback, sign-in cookie included", func(t *testing.T, _ *signinEnv, b *browser, cb *url.URL) response {
			login := b.cookie(loginCookieName)
			require.Equal(t, http.StatusSeeOther, b.getOnce(cb.String()).status, "the first use signs in")
			b.setCookie(loginCookieName, login)
			b.setCookie(sessionCookieName, "")
			return b.getOnce(cb.String())
		}, 1},
		{"sign-in older than the login timeout", func(t *testing.T, env *signinEnv, b *browser, cb *url.URL) response {
			env.clock.Advance(auth.DefaultLoginTimeout + time.Second)
			return b.getOnce(cb.String())
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newSigninEnv(t, signinOptions{})
			b := env.browser()
			cb := b.startSignIn("bob")

			r := tt.callback(t, env, b, cb)
			require.Equal(t, http.StatusBadRequest, r.status)
			require.Contains(t, r.body, `data-testid="sign-in-failed"`)
			require.Contains(t, r.body, "Sign-in did not complete")
			require.Equal(t, tt.wantSessions, env.countRows("sessions"), "no session is created")
			require.Equal(t, auth.EventLoginFailed, env.events.last().Kind)
			require.Contains(t, env.logs.String(), `"event":"auth.login_failed"`)
		})
	}
}

// claimFromNow sets a time claim d from the moment the token is issued,
// not from when the test table was built: parallel subtests may start a
// minute later on a loaded machine, past the minute of skew allowed.
func claimFromNow(name string, d time.Duration) devidp.IDTokenTweak {
	return func(tok *devidp.IDToken) { devidp.SetClaim(name, time.Now().Add(d).Unix())(tok) }
}

func TestSignInRefusesBadIDTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tweak  devidp.IDTokenTweak
		reason string
	}{
		{"wrong nonce", devidp.WrongNonce(), "nonce does not match"},
		{"no nonce", devidp.DeleteClaim("nonce"), "nonce does not match"},
		{"another issuer", devidp.WrongIssuer(), "id token issued by a different provider"},
		{"another audience", devidp.WrongAudience(), "expected audience"},
		{"extra audience, azp of another client", devidp.Tweaks(devidp.SetClaim("aud", []string{testClientID, "other"}), devidp.SetClaim("azp", "other")), "issued to another client"},
		{"extra audience, no azp", devidp.Tweaks(devidp.SetClaim("aud", []string{testClientID, "other"}), devidp.DeleteClaim("azp")), "several audiences and no azp"},
		{"expired an hour ago", devidp.Expired(), "token is expired"},
		{"expired 61 s ago", claimFromNow("exp", -61*time.Second), "token is expired"},
		{"issued 2 min in the future", claimFromNow("iat", 2*time.Minute), "issued in the future"},
		{"valid from 2 min in the future", claimFromNow("nbf", 2*time.Minute), "not valid yet"},
		{"no subject", devidp.DeleteClaim("sub"), "no subject"},
		{"unknown signing key", devidp.UnknownSigningKey(), "failed to verify signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newSigninEnv(t, signinOptions{})
			env.idp.SetIDTokenTweak(tt.tweak)
			b := env.browser()

			r := b.signIn("bob", "/")
			require.Equal(t, http.StatusBadRequest, r.status)
			require.Contains(t, r.body, `data-testid="sign-in-failed"`)
			require.Zero(t, env.countRows("sessions"))
			require.Zero(t, env.countRows("users"), "nobody is recorded from a rejected token")
			require.Empty(t, b.cookie(sessionCookieName))

			ev := env.events.last()
			require.Equal(t, auth.EventLoginFailed, ev.Kind)
			require.Contains(t, ev.Reason, tt.reason)
			if tt.reason != "" {
				require.NotContains(t, r.body, tt.reason, "the page says the sign-in failed, not why")
			}
			require.NotContains(t, env.logs.String(), "eyJ", "no token in the logs")
		})
	}
}

func TestSignInToleratesAMinuteOfClockSkew(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	ahead := time.Now().Add(45 * time.Second).Unix()
	env.idp.SetIDTokenTweak(devidp.Tweaks(devidp.SetClaim("iat", ahead), devidp.SetClaim("nbf", ahead)))
	page := env.browser().signIn("bob", "/")
	require.Equal(t, http.StatusOK, page.status, page.body)
	require.Contains(t, page.body, "Bob Brown")
}

func TestPeopleAreKnownByIssuerAndSubject(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	userID := func(subject string) (id int64, email string) {
		require.NoError(t, env.pool.QueryRow(t.Context(), "SELECT id, email FROM users WHERE subject = $1", subject).Scan(&id, &email))
		return id, email
	}
	env.browser().signIn("bob", "/")
	bob, _ := userID("devidp-bob")

	// Bob's email changes at the provider: same person, new email.
	env.idp.SetIDTokenTweak(devidp.SetClaim("email", "robert@example.com"))
	env.browser().signIn("bob", "/")
	id, email := userID("devidp-bob")
	require.Equal(t, bob, id)
	require.Equal(t, "robert@example.com", email)

	// Alice turns up with bob's old email: she is still alice, with her
	// own roles, and bob's account is untouched.
	env.idp.SetIDTokenTweak(devidp.SetClaim("email", "bob@example.com"))
	page := env.browser().signIn("alice", "/")
	require.Contains(t, page.body, "Alice Anderson")
	require.NotContains(t, page.body, "<span>approver</span>")
	alice, _ := userID("devidp-alice")
	require.NotEqual(t, bob, alice)
	require.Equal(t, 2, env.countRows("users"))
}

func TestClaimsAreRenderedInert(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	payloads := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `x" hx-get="/auth/logout" hx-trigger="load`, `<div hx-on:click="alert(1)">`}
	env.idp.SetIDTokenTweak(devidp.Tweaks(
		devidp.SetClaim("name", payloads[0]+payloads[1]),
		devidp.SetClaim("preferred_username", payloads[2]),
		devidp.SetClaim("groups", payloads),
	))
	page := env.browser().signIn("mallory", "/") // no role: the no-access page shows every claim
	require.Equal(t, http.StatusForbidden, page.status)
	require.Contains(t, page.body, `data-testid="no-access"`)
	for _, p := range payloads {
		require.NotContains(t, page.body, p)
	}
	require.Contains(t, page.body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.NotRegexp(t, `<img|<div hx-on| hx-get="/auth`, page.body)
}

func TestSecurityLogsCannotBeForged(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()
	cb := b.startSignIn("bob")
	q := cb.Query()
	q.Set("error", "access_denied")
	q.Set("error_description", "nope\n{\"level\":\"INFO\",\"msg\":\"forged\"}\r\n\x1b[31mred")
	cb.RawQuery = q.Encode()
	r := b.getOnce(cb.String())
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, env.events.last().Reason, "forged", "the description is recorded")
	for _, line := range strings.Split(strings.TrimSpace(env.logs.String()), "\n") {
		require.True(t, strings.HasPrefix(line, "{") && strings.HasSuffix(line, "}"), "every log line is one JSON object: %q", line)
		require.NotContains(t, line, `"msg":"forged"`)
		require.NotContains(t, line, "\x1b")
	}
}

func TestSignInCancelledAtTheProvider(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()
	login := b.get(auth.LoginPath)
	require.Equal(t, "/login", login.url.Path)
	id := login.url.Query().Get("authRequestID")

	r := b.do(b.follow, http.MethodPost, env.idp.Issuer()+"/login/cancel", url.Values{"id": {id}})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.body, "Sign-in cancelled")
	require.Contains(t, env.events.last().Reason, "access_denied")
}

func TestSignInTakesGroupsFromUserinfoWhenTheIDTokenHasNone(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	env.idp.SetIDTokenTweak(devidp.DeleteClaim(devidp.GroupsClaim))
	page := env.browser().signIn("bob", "/")
	require.Equal(t, http.StatusOK, page.status, page.body)
	require.Regexp(t, `<span>requester</span><span>approver</span>`, page.body)
}

func TestSignInIgnoresUnsafeReturnPaths(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	for _, next := range []string{
		"//evil.example/", `/\evil.example/`, "https://evil.example/", "http:evil.example",
		"/\t/evil.example", "javascript:alert(1)", "evil.example", auth.LogoutPath, auth.LoginPath + "?next=/x",
	} {
		t.Run(next, func(t *testing.T) {
			b := env.browser()
			page := b.signIn("alice", next)
			require.Equal(t, http.StatusOK, page.status, page.body)
			require.Equal(t, strings.TrimPrefix(env.url, "http://"), page.url.Host)
			require.Equal(t, "/", page.url.Path)
			require.Empty(t, page.url.RawQuery)
		})
	}
}

func TestSignInEndsTheSessionTheBrowserHad(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})

	// An attacker signs in and plants their session id in the victim's browser.
	attacker := env.browser()
	attacker.signIn("alice", "/")
	planted := attacker.cookie(sessionCookieName)
	victim := env.browser()
	victim.setCookie(sessionCookieName, planted)
	require.Contains(t, victim.get("/").body, "Alice Anderson", "the planted session works until the victim signs in")

	// The victim signs in: they get a new id and the planted one is dead,
	// so the attacker cannot ride on the victim's sign-in.
	page := victim.signIn("bob", "/")
	require.Contains(t, page.body, "Bob Brown")
	require.NotEqual(t, planted, victim.cookie(sessionCookieName))
	r := attacker.getOnce("/")
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, auth.LoginPath, r.header.Get("Location"))

	// A second sign-in in the same browser also gets a new id.
	before := victim.cookie(sessionCookieName)
	victim.signIn("bob", "/")
	require.NotEqual(t, before, victim.cookie(sessionCookieName))
	require.Equal(t, 1, env.countRows("sessions"))
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	idle, absolute := auth.DefaultIdleTimeout, auth.DefaultAbsoluteTimeout

	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		env := newSigninEnv(t, signinOptions{})
		b := env.browser()
		b.signIn("bob", "/")
		for range 3 { // used within the idle timeout, the session lives on
			env.clock.Advance(idle - time.Minute)
			require.Equal(t, http.StatusOK, b.getOnce("/").status)
		}
		env.clock.Advance(idle + time.Second)
		r := b.getOnce("/?page=2")
		require.Equal(t, http.StatusSeeOther, r.status)
		require.Equal(t, "/auth/login?next=%2F%3Fpage%3D2", r.header.Get("Location"))
		require.Zero(t, env.countRows("sessions"), "an expired session is deleted when read")
		require.Empty(t, b.cookie(sessionCookieName), "and its cookie cleared")
	})

	t.Run("absolute", func(t *testing.T) {
		t.Parallel()
		env := newSigninEnv(t, signinOptions{})
		b := env.browser()
		b.signIn("bob", "/")
		for elapsed := time.Duration(0); elapsed+idle/2 < absolute; elapsed += idle / 2 {
			env.clock.Advance(idle / 2)
			require.Equal(t, http.StatusOK, b.getOnce("/").status, "at %s", elapsed+idle/2)
		}
		env.clock.Advance(idle / 2)
		require.Equal(t, http.StatusSeeOther, b.getOnce("/").status, "12 h after sign-in, however active")
	})

	t.Run("cleanup", func(t *testing.T) {
		t.Parallel()
		env := newSigninEnv(t, signinOptions{})
		env.browser().signIn("bob", "/")
		env.browser().signIn("carol", "/")
		env.browser().getOnce(auth.LoginPath) // an abandoned sign-in
		n, err := env.auth.DeleteExpired(t.Context())
		require.NoError(t, err)
		require.Zero(t, n)
		env.clock.Advance(idle + time.Second)
		n, err = env.auth.DeleteExpired(t.Context())
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		require.Zero(t, env.countRows("sessions"))
		require.Zero(t, env.countRows("login_attempts"))
	})
}

// TestASignOutElsewhereEndsTheSessionWithinTheRecheck: a process trusts a
// session it read for auth.DefaultSessionRecheck (no statement per click);
// a sign-out in another replica, which only deletes the row, takes effect
// here within that time, as it does for the open event streams.
func TestASignOutElsewhereEndsTheSessionWithinTheRecheck(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()
	b.signIn("bob", "/")
	require.Equal(t, http.StatusOK, b.getOnce("/").status)

	_, err := env.pool.Exec(t.Context(), "DELETE FROM sessions") // another replica's sign-out
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.getOnce("/").status, "read from this process's memory, not the database")
	env.clock.Advance(auth.DefaultSessionRecheck)
	r := b.getOnce("/")
	require.Equal(t, http.StatusSeeOther, r.status, "gone once the recheck time has passed")
	require.Equal(t, auth.LoginPath, r.header.Get("Location"))
}

func TestHTMXRequestAfterExpiryRedirectsTheWholePage(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()
	b.signIn("bob", "/")
	env.clock.Advance(auth.DefaultIdleTimeout + time.Second)

	r := b.getOnce("/", "HX-Request", "true", "HX-Current-URL", env.url+"/?tab=mine")
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "/auth/login?next=%2F%3Ftab%3Dmine", r.header.Get("HX-Redirect"))
	require.Empty(t, r.body, "no sign-in page swapped into a fragment")
	require.Contains(t, r.header.Values("Vary"), "HX-Request")

	// A current URL on another site is not a place to come back to.
	b.signIn("bob", "/")
	env.clock.Advance(auth.DefaultIdleTimeout + time.Second)
	r = b.getOnce("/", "HX-Request", "true", "HX-Current-URL", "https://evil.example/x")
	require.Equal(t, auth.LoginPath, r.header.Get("HX-Redirect"))
}

func TestLogout(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()
	b.signIn("bob", "/")
	old := b.cookie(sessionCookieName)
	token := b.csrfToken()

	r := b.postOnce(auth.LogoutPath, url.Values{"csrf_token": {token}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	end, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, env.idp.Issuer()+"/end_session", end.Scheme+"://"+end.Host+end.Path)
	require.Regexp(t, `^eyJ`, end.Query().Get("id_token_hint"))
	require.Equal(t, env.url+auth.SignedOutPath, end.Query().Get("post_logout_redirect_uri"))
	require.Equal(t, testClientID, end.Query().Get("client_id"))
	require.Zero(t, env.countRows("sessions"), "the server-side session is gone")
	require.Empty(t, b.cookie(sessionCookieName))

	// The provider ends its side and sends the browser to the signed-out page.
	page := b.get(end.String())
	require.Equal(t, http.StatusOK, page.status)
	require.Equal(t, auth.SignedOutPath, page.url.Path)
	require.Contains(t, page.body, `data-testid="signed-out"`)
	require.NotContains(t, page.body, `data-testid="current-user"`)

	// The old cookie no longer works, and signing out again is harmless.
	b.setCookie(sessionCookieName, old)
	r = b.getOnce("/")
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, auth.LoginPath, r.header.Get("Location"))
	r = b.postOnce(auth.LogoutPath, url.Values{"csrf_token": {token}})
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, auth.SignedOutPath, r.header.Get("Location"))

	require.Equal(t, []auth.EventKind{auth.EventLogin, auth.EventLogout}, env.events.kinds())
	require.NotContains(t, env.logs.String(), end.Query().Get("id_token_hint"), "the ID token is never logged")
}

func TestNoAccessPage(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()
	page := b.signIn("mallory", "/")
	require.Equal(t, http.StatusForbidden, page.status)
	require.Contains(t, page.body, `data-testid="no-access"`)
	require.Contains(t, page.body, "You have no access to Clusterdesk")
	require.Contains(t, page.body, `data-testid="no-access-user">Mallory Moore (mallory)`)
	require.Regexp(t, `data-testid="no-access-groups">\s*none`, page.body)
	require.Regexp(t, `data-testid="grant-requester"><strong>requester</strong>:\s*developers`, page.body)
	require.Regexp(t, `data-testid="grant-approver"><strong>approver</strong>:\s*approvers`, page.body)
	require.Contains(t, page.body, `data-testid="sign-out"`, "mallory can sign out and try another account")

	ev := env.events.last()
	require.Equal(t, auth.EventDenied, ev.Kind)
	require.Equal(t, "mallory", ev.Username)
	require.Equal(t, "/", ev.Path)

	r := b.getOnce("/", "HX-Request", "true")
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "true", r.header.Get("HX-Refresh"))
	require.Empty(t, r.body)

	r = b.postOnce(auth.LogoutPath, url.Values{"csrf_token": {csrfFieldRE.FindStringSubmatch(page.body)[1]}})
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Zero(t, env.countRows("sessions"))
}

func TestRoleChecks(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	ok := func(c echo.Context) error { return c.String(http.StatusOK, "for approvers") }
	env.server.echo.GET("/test/approvers", ok, env.server.requireSignIn, env.server.requireRole(auth.RoleApprover))

	for user, want := range map[string]int{"bob": http.StatusOK, "carol": http.StatusOK, "alice": http.StatusForbidden} {
		b := env.browser()
		b.signIn(user, "/")
		r := b.getOnce("/test/approvers")
		require.Equal(t, want, r.status, user)
		if want == http.StatusForbidden {
			require.Contains(t, r.body, `data-testid="error-page"`)
			require.Contains(t, r.body, "Alice Anderson", "the error page still shows who is signed in")
			ev := env.events.last()
			require.Equal(t, auth.EventDenied, ev.Kind)
			require.Equal(t, "needs role approver", ev.Reason)
			require.Equal(t, "alice", ev.Username)
		}
	}
}
