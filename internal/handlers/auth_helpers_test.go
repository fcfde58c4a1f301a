package handlers

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
	"github.com/clusterdesk/clusterdesk/web/static"
)

// signinEnv is the portal served over real HTTP (httptest) with sign-in
// through devidp, a database of its own and a clock the test moves.
type signinEnv struct {
	t      *testing.T
	url    string // the portal's base URL
	server *Server
	srv    *httptest.Server
	idp    *devidp.Provider
	auth   *auth.Service
	pool   *pgxpool.Pool
	clock  *testClock
	logs   *logSink
	events *eventSink
}

type signinOptions struct {
	// tls serves the portal over https (secure cookies, HSTS).
	tls bool
	// roles overrides the group-to-role mapping; requesters default to
	// developers so that mallory has no role.
	roles *auth.RoleGroups
}

const testClientID, testClientSecret = "portal", "portal-secret"

func newSigninEnv(t *testing.T, opts signinOptions) *signinEnv {
	t.Helper()
	env := &signinEnv{t: t, pool: testdb.New(t), clock: newTestClock(), logs: &logSink{}, events: &eventSink{}}
	env.srv = httptest.NewUnstartedServer(nil)
	scheme := "http"
	if opts.tls {
		scheme = "https"
	}
	env.url = scheme + "://" + env.srv.Listener.Addr().String()
	env.idp, _ = devidp.NewTestServer(t, devidp.Config{Clients: []devidp.Client{{
		ID:                     testClientID,
		Secret:                 testClientSecret,
		RedirectURIs:           []string{env.url + auth.CallbackPath},
		PostLogoutRedirectURIs: []string{env.url + auth.SignedOutPath},
	}}})
	logger := slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	roles := auth.RoleGroups{Requester: []string{"developers"}, Approver: []string{"approvers"}, Admin: []string{"admins"}, Auditor: []string{"auditors"}}
	if opts.roles != nil {
		roles = *opts.roles
	}
	var err error
	env.auth, err = auth.New(t.Context(), env.pool, auth.Config{
		Issuer:       env.idp.Issuer(),
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		BaseURL:      env.url,
		Roles:        roles,
		Now:          env.clock.Now,
		Logger:       logger,
		Recorder:     env.events,
	})
	require.NoError(t, err)
	assets, err := static.Load()
	require.NoError(t, err)
	env.server = New(Deps{
		Logger: logger,
		Assets: assets,
		Ready:  func(context.Context) error { return nil },
		DB:     env.pool,
		Auth:   env.auth,
		Secure: opts.tls,
	})
	env.srv.Config.Handler = env.server
	if opts.tls {
		env.srv.StartTLS()
	} else {
		env.srv.Start()
	}
	t.Cleanup(env.srv.Close)
	return env
}

// countRows counts a table's rows.
func (env *signinEnv) countRows(table string) int {
	env.t.Helper()
	var n int
	require.NoError(env.t, env.pool.QueryRow(env.t.Context(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// browser is one user agent: a cookie jar shared by a client that follows
// redirects and one that stops at the first response.
type browser struct {
	env      *signinEnv
	jar      *cookiejar.Jar
	follow   *http.Client
	noFollow *http.Client
}

func (env *signinEnv) browser() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(env.t, err)
	transport := env.srv.Client().Transport // trusts the test certificate
	return &browser{
		env:    env,
		jar:    jar,
		follow: &http.Client{Jar: jar, Transport: transport, Timeout: 30 * time.Second},
		noFollow: &http.Client{Jar: jar, Transport: transport, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// response is a finished response with its body read.
type response struct {
	status int
	header http.Header
	body   string
	url    *url.URL // where the request ended (after redirects)
}

func readResponse(t *testing.T, resp *http.Response, err error) response {
	t.Helper()
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(body), url: resp.Request.URL}
}

// do sends a request; header holds name, value pairs. A path is relative to
// the portal.
func (b *browser) do(hc *http.Client, method, target string, body url.Values, header ...string) response {
	b.env.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.env.url + target
	}
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequestWithContext(b.env.t.Context(), method, target, rd)
	require.NoError(b.env.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	return readResponse(b.env.t, resp, err)
}

// get follows redirects.
func (b *browser) get(path string, header ...string) response {
	return b.do(b.follow, http.MethodGet, path, nil, header...)
}

// getOnce does not follow redirects.
func (b *browser) getOnce(path string, header ...string) response {
	return b.do(b.noFollow, http.MethodGet, path, nil, header...)
}

// postOnce posts a form like a browser on the same site (Sec-Fetch-Site
// same-origin unless header overrides it) and does not follow redirects.
func (b *browser) postOnce(path string, form url.Values, header ...string) response {
	return b.do(b.noFollow, http.MethodPost, path, form, append([]string{"Sec-Fetch-Site", "same-origin"}, header...)...)
}

// signIn signs in at the devidp picker, starting from the page next (via
// /auth/login?next=…), and returns the page the browser ends on.
func (b *browser) signIn(username, next string) response {
	b.env.t.Helper()
	start := b.env.url + auth.LoginPath
	if next != "" {
		start += "?" + url.Values{"next": {next}}.Encode()
	}
	resp, err := devidp.Login(b.env.t.Context(), b.follow, start, username)
	return readResponse(b.env.t, resp, err)
}

// startSignIn goes through the provider but stops before the portal's
// callback; it returns the callback URL (with code and state).
func (b *browser) startSignIn(username string) *url.URL {
	b.env.t.Helper()
	stopAtCallback := &http.Client{Jar: b.jar, Transport: b.follow.Transport, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == auth.CallbackPath {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := devidp.Login(b.env.t.Context(), stopAtCallback, b.env.url+auth.LoginPath, username)
	r := readResponse(b.env.t, resp, err)
	require.Equal(b.env.t, http.StatusFound, r.status, r.body)
	loc, err := url.Parse(r.header.Get("Location"))
	require.NoError(b.env.t, err)
	require.Equal(b.env.t, auth.CallbackPath, loc.Path)
	return loc
}

// cookie returns the value of the portal's cookie name, or "".
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.env.url)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie puts a cookie for the portal into the jar, as an attacker who
// planted it would.
func (b *browser) setCookie(name, value string) {
	u, _ := url.Parse(b.env.url)
	b.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

var csrfFieldRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfToken reads the CSRF token from the start page, as a form would.
func (b *browser) csrfToken() string {
	b.env.t.Helper()
	r := b.get("/")
	m := csrfFieldRE.FindStringSubmatch(r.body)
	require.NotNil(b.env.t, m, "no CSRF token on the start page (status %d)", r.status)
	return m[1]
}

// testClock is a clock the test moves forward.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logSink collects log lines that tests read while the server writes.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// eventSink is an auth.Recorder that keeps the events.
type eventSink struct {
	mu     sync.Mutex
	events []auth.Event
}

func (s *eventSink) Record(_ context.Context, e auth.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

// kinds lists the recorded events' kinds, in order.
func (s *eventSink) kinds() []auth.EventKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []auth.EventKind
	for _, e := range s.events {
		out = append(out, e.Kind)
	}
	return out
}

func (s *eventSink) last() auth.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return auth.Event{}
	}
	return s.events[len(s.events)-1]
}
