package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/handlers"
	"github.com/clusterdesk/clusterdesk/web/static"
)

const serveUsage = `Runs the web server and the background worker until SIGINT or SIGTERM, then
stops gracefully: in-flight requests finish and running jobs complete or are
handed back to the queue. Refuses to start on an out-of-date database schema.
Configuration: PORTAL_* environment variables (docs/configuration.md).`

func runServe(ctx context.Context, args []string, env lookupFunc, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve [flags]", serveUsage, stdout)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(env)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, cfg.Logger(stderr), stdout)
}

// serve runs the portal with a loaded configuration until ctx ends.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer) error {
	if err := cfg.CheckServe(); err != nil {
		return err
	}
	pool, err := database.Open(ctx, cfg.DatabaseURL.Reveal())
	if err != nil {
		return err
	}
	defer pool.Close()
	migrator, err := database.NewMigrator(pool, nil)
	if err != nil {
		return err
	}
	defer migrator.Close()
	if err := migrator.CheckCurrent(ctx); err != nil {
		if errors.Is(err, database.ErrSchemaBehind) {
			return fmt.Errorf("%w; apply the migrations first: portal migrate up", err)
		}
		return err
	}

	authn, err := auth.New(ctx, pool, authConfig(cfg, logger))
	if err != nil {
		return fmt.Errorf("sign-in provider (PORTAL_OIDC_ISSUER=%s): %w", cfg.OIDCIssuer, err)
	}
	go authn.RunCleanup(ctx, 10*time.Minute)

	cloud, err := newCloudClient(cfg, logger)
	if err != nil {
		return err
	}
	go checkCloud(ctx, cloud, logger)

	assets, err := static.Load()
	if err != nil {
		return err
	}
	web := handlers.New(handlers.Deps{
		Logger: logger,
		Assets: assets,
		Auth:   authn,
		Secure: cfg.Secure(),
		Ready: func(ctx context.Context) error {
			if err := pool.Ping(ctx); err != nil {
				return err
			}
			return migrator.CheckCurrent(ctx)
		},
	})

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (PORTAL_LISTEN_ADDR): %w", cfg.ListenAddr, err)
	}
	srv := handlers.HTTPServer(cfg.ListenAddr, web, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("portal serving", "addr", ln.Addr().String(), "base_url", cfg.BaseURL, "version", version)
	fmt.Fprintf(stdout, "portal: listening on http://%s\n", ln.Addr())

	select {
	case err := <-errc:
		return fmt.Errorf("web server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("stopping", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web server shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// authConfig is the sign-in configuration: the provider, the role groups and
// the session timeouts.
func authConfig(cfg config.Config, logger *slog.Logger) auth.Config {
	return auth.Config{
		Issuer:       cfg.OIDCIssuer,
		ClientID:     cfg.OIDCClientID,
		ClientSecret: cfg.OIDCClientSecret.Reveal(),
		BaseURL:      cfg.BaseURL,
		Scopes:       cfg.OIDCScopes,
		GroupsClaim:  cfg.OIDCGroupsClaim,
		Roles: auth.RoleGroups{
			Requester: cfg.RequesterGroups,
			Approver:  cfg.ApproverGroups,
			Admin:     cfg.AdminGroups,
			Auditor:   cfg.AuditorGroups,
		},
		IdleTimeout:     cfg.SessionIdleTimeout,
		AbsoluteTimeout: cfg.SessionAbsoluteTimeout,
		Logger:          logger,
	}
}
