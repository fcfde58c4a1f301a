package handlers

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/web/static"
)

// newServerFor builds a second portal on env's database and sign-in, with
// its Deps changed by change. Sessions live in the database, so a browser
// signed in at env is signed in there too.
func newServerFor(t *testing.T, env *signinEnv, change func(*Deps)) *Server {
	t.Helper()
	assets, err := static.Load()
	require.NoError(t, err)
	deps := Deps{
		Logger: slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Assets: assets,
		Ready:  func(context.Context) error { return nil },
		DB:     env.pool,
		Auth:   env.auth,
	}
	change(&deps)
	return New(deps)
}

// serveOnLoopback serves srv over real HTTP on 127.0.0.1 and returns its
// base URL. Cookies do not depend on the port, so env's browsers send it
// their session cookie.
func serveOnLoopback(t *testing.T, srv *Server) string {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL
}

// postBody posts body as b's browser on the same site, without following
// redirects. size is the Content-Length; -1 sends the body chunked, its
// length unknown to the server until it has read it.
func (b *browser) postBody(path, contentType string, body io.Reader, size int64, header ...string) response {
	b.env.t.Helper()
	req, err := http.NewRequestWithContext(b.env.t.Context(), http.MethodPost, b.env.url+path, io.NopCloser(body))
	require.NoError(b.env.t, err)
	req.ContentLength = size
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.noFollow.Do(req)
	return readResponse(b.env.t, resp, err)
}

// filler reads as an endless run of 'a'.
type filler struct{}

func (filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// multipartUpload is a multipart form with the CSRF token and a file of
// fileSize bytes, streamed rather than held in memory.
func multipartUpload(token string, fileSize int64) (contentType string, body io.Reader, size int64) {
	const boundary = "clusterdesk-test-boundary"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + token + "\r\n" +
		"--" + boundary + "\r\nContent-Disposition: form-data; name=\"spec\"; filename=\"spec.json\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--" + boundary + "--\r\n"
	body = io.MultiReader(strings.NewReader(head), io.LimitReader(filler{}, fileSize), strings.NewReader(tail))
	return "multipart/form-data; boundary=" + boundary, body, int64(len(head)) + fileSize + int64(len(tail))
}

// multipartTempFiles lists the files Go's multipart parser leaves in dir.
func multipartTempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "multipart-") {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestBodyLimitAndMultipart: a body over the limit is refused with 413
// before any guard reads it (an auditor's 40 MB upload to a requesters'
// route is not taken for a missing CSRF token), a multipart body with 415,
// and no multipart-* temporary file is left; a large but legitimate form
// still goes through.
func TestBodyLimitAndMultipart(t *testing.T) {
	// Not parallel: TMPDIR points at a directory of this test's own, so that
	// the multipart-* files counted are only the ones this test could cause.
	env := newSigninEnv(t, signinOptions{})
	erin := env.browser() // an auditor, not a requester
	erin.signIn("erin", "/")
	token := erin.csrfToken()
	t.Setenv("TMPDIR", t.TempDir())
	tmp := os.TempDir()
	require.Empty(t, multipartTempFiles(t, tmp))
	tooLarge := errorView(errBodyTooLarge).Message
	noFiles := errorView(errMultipart).Message
	auditRows := func() int { return env.countRows("audit_log") }
	rows := auditRows()

	t.Run("40 MB upload to a route the role is refused", func(t *testing.T) {
		ct, body, size := multipartUpload(token, 40<<20)
		r := erin.postBody("/clusters/new/validate", ct, body, size)
		require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "413, not the 403 of the CSRF or role check")
		require.Contains(t, html.UnescapeString(r.body), tooLarge)
		require.Contains(t, r.body, r.header.Get(requestIDHeader), "the error page names the request")
	})
	t.Run("too large from htmx: a message in #flash", func(t *testing.T) {
		ct, body, size := multipartUpload(token, 3<<20)
		r := erin.postBody("/clusters/new/validate", ct, body, size, "HX-Request", "true")
		require.Equal(t, http.StatusRequestEntityTooLarge, r.status)
		require.Equal(t, "#flash", r.header.Get("HX-Retarget"))
		require.Contains(t, html.UnescapeString(r.body), tooLarge)
	})
	t.Run("upload of unknown length", func(t *testing.T) {
		ct, body, _ := multipartUpload(token, 40<<20)
		r := erin.postBody("/clusters/new/validate", ct, body, -1)
		require.Equal(t, http.StatusUnsupportedMediaType, r.status)
		require.Contains(t, html.UnescapeString(r.body), noFiles)
	})
	t.Run("small upload to a route the role allows", func(t *testing.T) {
		ct, body, size := multipartUpload(token, 1<<10)
		r := erin.postBody("/audit/verify", ct, body, size)
		require.Equal(t, http.StatusUnsupportedMediaType, r.status)
		require.Contains(t, html.UnescapeString(r.body), noFiles)
	})
	t.Run("form of unknown length over the limit", func(t *testing.T) {
		form := "csrf_token=" + url.QueryEscape(token) + "&note=" + strings.Repeat("a", 3<<20)
		r := erin.postBody("/audit/verify", "application/x-www-form-urlencoded", strings.NewReader(form), -1)
		require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "cut off while the CSRF guard read it")
		require.Contains(t, html.UnescapeString(r.body), tooLarge)
	})
	require.Empty(t, multipartTempFiles(t, tmp), "no multipart temporary file survives")
	require.Equal(t, rows, auditRows(), "no refused request ran its handler")

	t.Run("a large legitimate form", func(t *testing.T) {
		form := "csrf_token=" + url.QueryEscape(token) + "&note=" + strings.Repeat("a", 3<<19) // 1.5 MiB
		r := erin.postBody("/audit/verify", "application/x-www-form-urlencoded", strings.NewReader(form), int64(len(form)))
		require.Equal(t, http.StatusSeeOther, r.status, r.body)
		require.Equal(t, "/audit/verify", r.header.Get("Location"))
		require.Equal(t, rows+1, auditRows(), "the verification was recorded")
	})
}

// TestClientAddressAndRequestIDInTheAuditLog: the audit log records the
// TCP peer and the portal's own request id, whatever X-Forwarded-For and
// X-Request-Id a client sends; X-Forwarded-For is believed only through a
// proxy named in Deps.TrustedProxies, and a client's request id is only
// logged beside the portal's.
func TestClientAddressAndRequestIDInTheAuditLog(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	erin := env.browser() // an auditor: an export is an audit event
	erin.signIn("erin", "/")
	const claimedID = "SECURITY-TEAM-APPROVED-0001"
	forged := []string{"X-Forwarded-For", "198.51.100.7", "X-Request-Id", claimedID}
	lastOrigin := func() (ip, requestID string) {
		require.NoError(t, env.pool.QueryRow(t.Context(),
			"SELECT origin_ip, origin_request_id FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&ip, &requestID))
		return ip, requestID
	}
	// requestLine waits for the log line of request id (it is written once
	// the response is, so it may come after the client has read it).
	requestLine := func(id string) map[string]any {
		var line map[string]any
		require.Eventually(t, func() bool {
			for raw := range strings.SplitSeq(env.logs.String(), "\n") {
				var l map[string]any
				if json.Unmarshal([]byte(raw), &l) == nil && l["msg"] == "request" && l["request_id"] == id {
					line = l
					return true
				}
			}
			return false
		}, 10*time.Second, 10*time.Millisecond)
		return line
	}

	r := erin.getOnce("/audit/export?format=csv", forged...)
	require.Equal(t, http.StatusOK, r.status, r.body)
	ip, id := lastOrigin()
	require.Equal(t, "127.0.0.1", ip, "the test client is not a trusted proxy: its X-Forwarded-For is ignored")
	require.NotEqual(t, claimedID, id)
	require.Regexp(t, `^[0-9a-f]{24}$`, id, "the portal's own id")
	require.Equal(t, r.header.Get(requestIDHeader), id)
	line := requestLine(id)
	require.Equal(t, claimedID, line["client_request_id"], "the client's id is kept apart, in the log only")
	require.Equal(t, "127.0.0.1", line["remote_ip"])

	// A client's id is cleaned for the log: printable ASCII, 64 at most.
	r = erin.getOnce("/", "X-Request-Id", "Ünïcode-"+strings.Repeat("x", 100))
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "ncode-"+strings.Repeat("x", 58), requestLine(r.header.Get(requestIDHeader))["client_request_id"])

	// Behind a proxy on loopback that the configuration names.
	behind := serveOnLoopback(t, newServerFor(t, env, func(d *Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}))
	r = erin.getOnce(behind+"/audit/export?format=csv", forged...)
	require.Equal(t, http.StatusOK, r.status, r.body)
	ip, id = lastOrigin()
	require.Equal(t, "198.51.100.7", ip, "the trusted proxy's X-Forwarded-For is believed")
	require.NotEqual(t, claimedID, id, "a trusted proxy does not choose the request id either")
	require.Equal(t, r.header.Get(requestIDHeader), id)
}

// TestCSRFTokenNotFromTheQueryString: the token counts from the header or
// the form body only; one in the URL (which leaks through logs, history and
// Referer) is as good as none.
func TestCSRFTokenNotFromTheQueryString(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	bob := env.browser()
	bob.signIn("bob", "/")
	token := bob.csrfToken()

	r := bob.postOnce(auth.LogoutPath+"?"+url.Values{csrfField: {token}}.Encode(), url.Values{})
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, html.UnescapeString(r.body), errorView(errCSRFToken).Message)
	require.Equal(t, auth.EventDenied, env.events.last().Kind)
	require.Equal(t, http.StatusOK, bob.getOnce("/").status, "still signed in")

	r = bob.postOnce(auth.LogoutPath, url.Values{csrfField: {token}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Zero(t, env.countRows("sessions"), "the token in the form body signed bob out")
}

// TestCSRFOriginMustHaveThePortalsScheme: from a browser that sends Origin
// but not Sec-Fetch-Site, a state change whose Origin has the portal's host
// but the other scheme is refused as cross-site.
func TestCSRFOriginMustHaveThePortalsScheme(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		scheme, other := "http://", "https://"
		if tls {
			scheme, other = other, scheme
		}
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			env := newSigninEnv(t, signinOptions{tls: tls})
			host := strings.TrimPrefix(env.url, scheme)
			bob := env.browser()
			bob.signIn("bob", "/")
			token := bob.csrfToken()

			r := bob.postOnce(auth.LogoutPath, url.Values{csrfField: {token}}, "Sec-Fetch-Site", "", "Origin", other+host)
			require.Equal(t, http.StatusForbidden, r.status)
			require.Contains(t, html.UnescapeString(r.body), errorView(errCrossSite).Message)
			require.Equal(t, auth.EventDenied, env.events.last().Kind)
			require.Contains(t, env.events.last().Reason, errOriginMismatch.Error())
			require.Equal(t, 1, env.countRows("sessions"), "still signed in")

			r = bob.postOnce(auth.LogoutPath, url.Values{csrfField: {token}}, "Sec-Fetch-Site", "", "Origin", scheme+host)
			require.Equal(t, http.StatusSeeOther, r.status, r.body)
			require.Zero(t, env.countRows("sessions"))
		})
	}
}
