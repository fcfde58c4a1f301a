package main

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
)

// TestServeStartsWhileTheProviderIsDown starts the real program with an
// identity provider that does not listen yet: the portal serves, says that
// sign-in is unavailable and which dependency is missing, and once the
// provider comes up people sign in.
func TestServeStartsWhileTheProviderIsDown(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	vars["PORTAL_REQUESTER_GROUPS"] = "developers"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	idpAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	vars["PORTAL_OIDC_ISSUER"] = "http://" + idpAddr

	base, _ := start(t, []string{"serve"}, vars)
	get := func(hc *http.Client, url string) (*http.Response, string) {
		t.Helper()
		resp, err := hc.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, _ := get(http.DefaultClient, base+"/healthz")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, body := get(noFollow, base+auth.LoginPath)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	require.Contains(t, body, "The sign-in service is unreachable; try again in a moment")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	resp, body = get(http.DefaultClient, base+"/readyz")
	require.Contains(t, body, "identity provider unreachable")
	require.NotContains(t, body, "database", "the database is fine")
	require.NotContains(t, body, idpAddr, "the reason must not leak connection details")
	require.Equal(t, http.StatusOK, resp.StatusCode, "ready but degraded: signed-in people and the worker go on")

	// The provider comes up where the portal expects it.
	idp, err := devidp.New(devidp.Config{Issuer: "http://" + idpAddr, Clients: []devidp.Client{{
		ID: "portal-test", Secret: "portal-test-secret",
		RedirectURIs:           []string{base + auth.CallbackPath},
		PostLogoutRedirectURIs: []string{base + auth.SignedOutPath},
	}}})
	require.NoError(t, err)
	idpLn, err := net.Listen("tcp", idpAddr)
	require.NoError(t, err)
	idpServer := &http.Server{Handler: idp, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = idpServer.Serve(idpLn) }()
	t.Cleanup(func() { _ = idpServer.Close() })

	// Each refused sign-in asks for an early retry; poll until one works.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := noFollow.Get(base + auth.LoginPath)
		require.NoError(c, err)
		resp.Body.Close()
		require.Equal(c, http.StatusSeeOther, resp.StatusCode)
	}, 60*time.Second, 100*time.Millisecond)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Jar: jar}
	resp, err = devidp.Login(t.Context(), hc, base+"/?from=idp-down", "bob")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	require.Equal(t, base+"/?from=idp-down", resp.Request.URL.String())
	require.Contains(t, string(page), "Bob Brown")

	resp, body = get(http.DefaultClient, base+"/readyz")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ready\n", body)
}
