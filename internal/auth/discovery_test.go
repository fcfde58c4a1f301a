package auth_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// freeAddr reserves a local port and frees it again, for a server that
// starts later.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// serveIdP starts devidp with issuer http://addr on addr.
func serveIdP(t *testing.T, addr string) *devidp.Provider {
	t.Helper()
	idp, err := devidp.New(devidp.Config{Issuer: "http://" + addr, Clients: []devidp.Client{{ID: "portal", RedirectURIs: []string{"http://portal.test/auth/callback"}}}})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: idp, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return idp
}

func TestStartWaitsForAnUnreachableProvider(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	addr := freeAddr(t)
	svc, err := auth.Start(t.Context(), pool, auth.Config{
		Issuer: "http://" + addr, ClientID: "portal", BaseURL: "http://portal.test",
		DiscoveryMinBackoff: 20 * time.Millisecond, DiscoveryMaxBackoff: 200 * time.Millisecond,
	})
	require.NoError(t, err, "the provider being down does not stop the start")
	require.ErrorIs(t, svc.ProviderStatus(), auth.ErrProviderUnavailable)
	require.Empty(t, svc.ProviderOrigin())
	require.Empty(t, svc.EndSessionURL(), "sign-out ends at the portal meanwhile")
	_, err = svc.BeginLogin(t.Context(), "/")
	require.ErrorIs(t, err, auth.ErrProviderUnavailable)
	_, err = svc.FinishLogin(t.Context(), "cookie", auth.Callback{Code: "c", State: "s"}, "")
	require.ErrorIs(t, err, auth.ErrProviderUnavailable)
	require.False(t, errors.Is(err, auth.ErrLoginFailed), "not a refused sign-in: it was not used up")

	serveIdP(t, addr)
	require.Eventually(t, func() bool { return svc.ProviderStatus() == nil }, 20*time.Second, 10*time.Millisecond,
		"the provider is discovered once it answers")
	start, err := svc.BeginLogin(t.Context(), "/requests/1")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(start.RedirectURL, "http://"+addr+"/"), start.RedirectURL)
	require.Equal(t, "http://"+addr, svc.ProviderOrigin())
}

func TestStartRefusesAProviderThatIsNotTheIssuer(t *testing.T) {
	t.Parallel()
	idp, _ := devidp.NewTestServer(t, devidp.Config{Clients: []devidp.Client{{ID: "portal", RedirectURIs: []string{"http://portal.test/auth/callback"}}}})
	_, err := auth.Start(t.Context(), testdb.New(t), auth.Config{Issuer: idp.Issuer() + "/", ClientID: "portal", BaseURL: "http://portal.test"})
	require.ErrorContains(t, err, `announces the issuer "`+idp.Issuer()+`"`, "a provider that answers wrongly is a configuration mistake, found at start")
}
