package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/config"
)

// TestServeSignInEndToEnd starts the real program and goes through sign-in,
// a state change with a real CSRF token, and sign-out, with a cookie jar.
func TestServeSignInEndToEnd(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	vars["PORTAL_REQUESTER_GROUPS"] = "developers"
	base, _ := start(t, []string{"serve"}, vars)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Jar: jar}
	noFollow := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	read := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}

	// A page that needs sign-in leads through the provider and back to it.
	resp, body := read(devidp.Login(t.Context(), hc, base+"/?from=e2e", "bob"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, base+"/?from=e2e", resp.Request.URL.String())
	require.Contains(t, body, "Bob Brown")
	require.Contains(t, body, "<span>approver</span>")
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, csrf)

	post := func(form url.Values) (*http.Response, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+auth.LogoutPath, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		return read(noFollow.Do(req))
	}

	// Without the token the state change is refused; with it, it works.
	resp, _ = post(url.Values{})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = post(url.Values{"csrf_token": {csrf[1]}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	end := resp.Header.Get("Location")
	require.Contains(t, end, vars["PORTAL_OIDC_ISSUER"]+"/end_session?")
	require.Contains(t, end, "id_token_hint=")

	resp, body = read(hc.Get(end))
	require.Equal(t, base+auth.SignedOutPath, resp.Request.URL.String())
	require.Contains(t, body, `data-testid="signed-out"`)

	resp, _ = read(noFollow.Get(base + "/"))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, auth.LoginPath, resp.Header.Get("Location"))
}

func TestServeNeedsASignInProvider(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	delete(vars, "PORTAL_OIDC_ISSUER")
	delete(vars, "PORTAL_OIDC_CLIENT_ID")
	err := run(t.Context(), []string{"serve"}, envOf(vars), io.Discard, io.Discard)
	var problems config.Problems
	require.True(t, errors.As(err, &problems), "a config problem exits 2: %v", err)
	require.Contains(t, err.Error(), "PORTAL_OIDC_ISSUER: required by portal serve")
	require.Contains(t, err.Error(), "PORTAL_OIDC_CLIENT_ID: required by portal serve")

	// An issuer that differs from what the provider announces fails the
	// start, naming the variable.
	vars = testEnv(t)
	vars["PORTAL_OIDC_ISSUER"] += "/"
	err = run(t.Context(), []string{"serve"}, envOf(vars), io.Discard, io.Discard)
	require.ErrorContains(t, err, "PORTAL_OIDC_ISSUER="+vars["PORTAL_OIDC_ISSUER"])
	require.ErrorContains(t, err, "announces the issuer")
}
