package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/config"
)

// The development identity provider of `portal dev`, and the portal's
// registration with it. `portal serve` never starts it.
const (
	devIdPIssuer = "http://localhost:8082"
	devIdPClient = "clusterdesk-dev"
	devIdPSecret = "clusterdesk-dev-secret" // not a secret: anyone can sign in as anyone here
)

// devIdPDefaults point the portal at the development identity provider.
// Requesters are limited to developers, so that mallory shows the "no
// access" page.
var devIdPDefaults = map[string]string{
	"PORTAL_OIDC_ISSUER":        devIdPIssuer,
	"PORTAL_OIDC_CLIENT_ID":     devIdPClient,
	"PORTAL_OIDC_CLIENT_SECRET": devIdPSecret,
	"PORTAL_REQUESTER_GROUPS":   "developers",
}

// startDevIdP serves the development identity provider on devIdPIssuer with
// the portal (at cfg.BaseURL) as its client, prints the test users, and
// returns a function that stops it.
func startDevIdP(cfg config.Config, logger *slog.Logger, stdout io.Writer) (stop func(), err error) {
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	idp, err := devidp.New(devidp.Config{
		Issuer: devIdPIssuer,
		Clients: []devidp.Client{{
			ID:                     devIdPClient,
			Secret:                 devIdPSecret,
			RedirectURIs:           []string{base + auth.CallbackPath},
			PostLogoutRedirectURIs: []string{base + auth.SignedOutPath, base + "/"},
		}},
		Logger: logger.With("component", "devidp"),
	})
	if err != nil {
		return nil, err
	}
	addr := strings.TrimPrefix(devIdPIssuer, "http://")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("development identity provider: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: idp, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("development identity provider stopped", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "portal dev: identity provider at %s; sign in as any of these test users (no password):\n", devIdPIssuer)
	for _, u := range idp.Users() {
		groups := "no groups"
		if len(u.Groups) > 0 {
			groups = strings.Join(u.Groups, ", ")
		}
		fmt.Fprintf(stdout, "  %-8s %-15s %s\n", u.Username, u.Name, groups)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
