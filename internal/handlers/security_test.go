package handlers

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
)

// everyRole makes every signed-in person hold every role, so that role
// checks never hide what a test looks for.
var everyRole = &auth.RoleGroups{Approver: []string{"developers"}, Admin: []string{"developers"}, Auditor: []string{"developers"}}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[tls], func(t *testing.T) {
			t.Parallel()
			env := newSigninEnv(t, signinOptions{tls: tls})
			bob := env.browser()
			bob.signIn("bob", "/")
			mallory := env.browser()
			mallory.signIn("mallory", "/")
			anon := env.browser()
			static := env.server.deps.Assets.Path("app.css")

			responses := map[string]response{
				"signed-in page":       bob.getOnce("/"),
				"htmx request":         bob.getOnce("/", "HX-Request", "true"),
				"htmx error fragment":  bob.getOnce("/no/such/fragment", "HX-Request", "true"),
				"error page":           bob.getOnce("/no/such/page"),
				"no access page":       mallory.getOnce("/"),
				"redirect to sign-in":  anon.getOnce("/"),
				"htmx after expiry":    anon.getOnce("/", "HX-Request", "true"),
				"sign-in redirect":     anon.getOnce(auth.LoginPath),
				"failed sign-in page":  anon.getOnce(auth.CallbackPath + "?code=x&state=y"),
				"signed-out page":      anon.getOnce(auth.SignedOutPath),
				"CSRF rejection":       bob.postOnce(auth.LogoutPath, url.Values{}),
				"cross-site rejection": bob.postOnce(auth.LogoutPath, url.Values{}, "Sec-Fetch-Site", "cross-site"),
				"method not allowed":   bob.do(bob.noFollow, http.MethodDelete, "/healthz", nil),
				"health check":         anon.getOnce("/healthz"),
				"static file":          anon.getOnce(static),
				"unknown static file":  anon.getOnce("/static/nope.css"),
			}
			nonces := map[string]bool{}
			for name, r := range responses {
				h := r.header
				csp := h.Get("Content-Security-Policy")
				require.NotEmpty(t, csp, name)
				for _, directive := range []string{
					"default-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
					"frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'",
					"form-action 'self' " + env.idp.Issuer(),
				} {
					require.Contains(t, strings.Split(csp, "; "), directive, "%s: %s", name, csp)
				}
				require.NotContains(t, csp, "unsafe-inline", name)
				require.NotContains(t, csp, "unsafe-eval", name)
				m := regexp.MustCompile(`script-src 'self' 'nonce-([A-Za-z0-9+/=]{24})'(;|$)`).FindStringSubmatch(csp)
				require.NotNil(t, m, "%s: %s", name, csp)
				require.False(t, nonces[m[1]], "%s: the nonce is new for every response", name)
				nonces[m[1]] = true

				require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), name)
				require.Equal(t, "strict-origin-when-cross-origin", h.Get("Referrer-Policy"), name)
				require.Equal(t, "same-origin", h.Get("Cross-Origin-Opener-Policy"), name)
				require.Equal(t, "DENY", h.Get("X-Frame-Options"), name)
				require.Empty(t, h.Get("Access-Control-Allow-Origin"), "%s: no CORS", name)
				if tls {
					require.Equal(t, "max-age=31536000; includeSubDomains", h.Get("Strict-Transport-Security"), name)
				} else {
					require.Empty(t, h.Get("Strict-Transport-Security"), name)
				}
				if name != "static file" {
					require.Equal(t, "no-store", h.Get("Cache-Control"), name)
				}
			}

			// Pages put this response's nonce on their scripts, and on nothing else.
			page := responses["signed-in page"]
			nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(page.header.Get("Content-Security-Policy"))[1]
			scripts := regexp.MustCompile(`<script [^>]*>`).FindAllString(page.body, -1)
			require.NotEmpty(t, scripts)
			for _, s := range scripts {
				require.Contains(t, s, `nonce="`+nonce+`"`)
			}
			require.NotContains(t, page.body, " style=", "inline styles would need unsafe-inline")
			require.NotRegexp(t, `<script[^>]*>[^<]`, page.body, "no inline scripts")
			require.NotRegexp(t, ` on[a-z]+=`, page.body, "no inline event handlers")
		})
	}
}

func TestStateChangesNeedSameSiteAndCSRFToken(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()
	b.signIn("bob", "/")
	token := b.csrfToken()
	csrfMessage := errorView(errCSRFToken).Message
	crossSiteMessage := errorView(errCrossSite).Message

	tests := []struct {
		name    string
		form    url.Values
		header  []string
		message string
	}{
		{"no token", url.Values{}, nil, csrfMessage},
		{"wrong token", url.Values{"csrf_token": {token[:len(token)-1]}}, nil, csrfMessage},
		{"token of another session", url.Values{"csrf_token": {func() string { o := env.browser(); o.signIn("carol", "/"); return o.csrfToken() }()}}, nil, csrfMessage},
		{"cross-site by Sec-Fetch-Site", url.Values{"csrf_token": {token}}, []string{"Sec-Fetch-Site", "cross-site"}, crossSiteMessage},
		{"same-site but another origin", url.Values{"csrf_token": {token}}, []string{"Sec-Fetch-Site", "same-site"}, crossSiteMessage},
		{"foreign Origin, older browser", url.Values{"csrf_token": {token}}, []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}, crossSiteMessage},
	}
	for _, tt := range tests {
		r := b.postOnce(auth.LogoutPath, tt.form, tt.header...)
		require.Equal(t, http.StatusForbidden, r.status, tt.name)
		require.Contains(t, html.UnescapeString(r.body), tt.message, tt.name)
		require.Equal(t, auth.EventDenied, env.events.last().Kind, tt.name)
		require.Equal(t, "bob", env.events.last().Username, tt.name)
	}
	require.Equal(t, http.StatusOK, b.getOnce("/").status, "refused requests changed nothing: still signed in")

	// htmx sends the token in a header; a same-origin Origin is fine too.
	r := b.postOnce(auth.LogoutPath, nil, "X-CSRF-Token", token, "HX-Request", "true", "Sec-Fetch-Site", "", "Origin", env.url)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.header.Get("HX-Redirect"), "/end_session")
	require.Equal(t, 1, env.countRows("sessions"), "bob's session is gone; carol's is left")
}

// unprotectedStateChanges walks the route table and returns every
// state-changing route that a signed-in person with every role can call
// without the session's CSRF token, or from another site.
func unprotectedStateChanges(t *testing.T, env *signinEnv) []string {
	t.Helper()
	b := env.browser()
	b.signIn("alice", "/")
	token := b.csrfToken()
	csrfMessage := errorView(errCSRFToken).Message
	crossSiteMessage := errorView(errCrossSite).Message
	param := regexp.MustCompile(`:[^/]+`)

	var offenders []string
	for _, route := range env.server.echo.Routes() {
		if isSafeMethod(route.Method) || route.Method == echo.RouteNotFound {
			continue
		}
		path := strings.ReplaceAll(param.ReplaceAllString(route.Path, "1"), "*", "x")
		noToken := b.do(b.noFollow, route.Method, path, url.Values{}, "Sec-Fetch-Site", "same-origin")
		crossSite := b.do(b.noFollow, route.Method, path, url.Values{"csrf_token": {token}}, "Sec-Fetch-Site", "cross-site")
		if noToken.status != http.StatusForbidden || !strings.Contains(html.UnescapeString(noToken.body), csrfMessage) ||
			crossSite.status != http.StatusForbidden || !strings.Contains(html.UnescapeString(crossSite.body), crossSiteMessage) {
			offenders = append(offenders, route.Method+" "+route.Path)
		}
	}
	require.Equal(t, http.StatusOK, b.getOnce("/").status, "the walk must not have signed alice out")
	return offenders
}

func TestStateChangingRoutesAreProtected(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{roles: everyRole})
	unsafe := 0
	for _, r := range env.server.echo.Routes() {
		if !isSafeMethod(r.Method) && r.Method != echo.RouteNotFound {
			unsafe++
		}
	}
	require.NotZero(t, unsafe, "the walk must have something to check (POST /auth/logout at least)")
	require.Empty(t, unprotectedStateChanges(t, env),
		"state-changing routes must be registered through a route group with s.csrf (routes.go)")

	// The walk does catch a route registered around the guards.
	env = newSigninEnv(t, signinOptions{roles: everyRole})
	env.server.echo.POST("/test/unguarded/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	env.server.echo.DELETE("/test/half-guarded", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, env.server.requireSignIn)
	require.ElementsMatch(t, []string{"POST /test/unguarded/:id", "DELETE /test/half-guarded"}, unprotectedStateChanges(t, env))
}

// TestGETChangesNothing walks every GET and HEAD route as a signed-in
// person with every role and checks that no table changed (S16): state
// changes take POST (or PUT, PATCH, DELETE), which the CSRF guard covers.
// The sign-in flow is the exception the protocol imposes (the provider
// redirects with GET); its own tests cover it. Sessions (last use) and the
// audit log (which may record reads) are expected to move.
func TestGETChangesNothing(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{roles: everyRole})
	b := env.browser()
	b.signIn("alice", "/")
	param := regexp.MustCompile(`:[^/]+`)
	mayChange := map[string]bool{"sessions": true, "audit_log": true, "goose_db_version": true}
	snapshot := func() map[string]string {
		rows, err := env.pool.Query(t.Context(), "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
		require.NoError(t, err)
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		out := map[string]string{}
		for _, table := range tables {
			if mayChange[table] {
				continue
			}
			var sum string
			name := pgx.Identifier{table}.Sanitize()
			require.NoError(t, env.pool.QueryRow(t.Context(),
				"SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM "+name+" t").Scan(&sum))
			out[table] = sum
		}
		return out
	}

	before := snapshot()
	require.Contains(t, before, "users")
	walked := 0
	for _, route := range env.server.echo.Routes() {
		if route.Method != http.MethodGet && route.Method != http.MethodHead {
			continue
		}
		if route.Path == auth.LoginPath || route.Path == auth.CallbackPath {
			continue
		}
		path := strings.ReplaceAll(param.ReplaceAllString(route.Path, "1"), "*", "x")
		for _, header := range [][]string{nil, {"HX-Request", "true"}} {
			b.do(b.noFollow, route.Method, path, nil, header...)
		}
		walked++
	}
	require.NotZero(t, walked)
	require.Equal(t, before, snapshot(), "a GET or HEAD route changed a table")
}

func TestSecurityEventsLogTheRealClientAddress(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	behindBalancer := newServerFor(t, env, func(d *Deps) { d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")} })
	for _, tt := range []struct {
		name        string
		server      *Server
		remote, xff string
		want        string
	}{
		{"no proxy trusted", env.server, "203.0.113.5:4242", "", "203.0.113.5"},
		{"no proxy trusted: a client cannot claim an address", env.server, "203.0.113.5:4242", "10.1.2.3", "203.0.113.5"},
		{"no proxy trusted: not even a private peer", env.server, "10.0.0.2:4242", "198.51.100.7", "10.0.0.2"},
		{"no proxy trusted: nor loopback", env.server, "127.0.0.1:4242", "198.51.100.7", "127.0.0.1"},
		{"behind the load balancer", behindBalancer, "10.0.0.2:4242", "198.51.100.7", "198.51.100.7"},
		{"the entry the trusted proxies added", behindBalancer, "10.0.0.2:4242", "1.2.3.4, 198.51.100.7, 10.0.0.9", "198.51.100.7"},
		{"a private peer that is not a listed proxy", behindBalancer, "10.0.1.2:4242", "198.51.100.7", "10.0.1.2"},
		{"an untrusted hop stops the walk", behindBalancer, "10.0.0.2:4242", "198.51.100.7, 192.168.1.1", "192.168.1.1"},
	} {
		req := httptest.NewRequest(http.MethodPost, auth.LogoutPath, strings.NewReader(""))
		req.RemoteAddr = tt.remote
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if tt.xff != "" {
			req.Header.Set("X-Forwarded-For", tt.xff)
		}
		rec := httptest.NewRecorder()
		tt.server.ServeHTTP(rec, req)
		require.Equal(t, http.StatusForbidden, rec.Code, tt.name)
		require.Equal(t, tt.want, env.events.last().IP, tt.name)
	}
}
