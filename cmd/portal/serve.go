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

	"github.com/clusterdesk/clusterdesk/internal/api"
	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/handlers"
	"github.com/clusterdesk/clusterdesk/internal/live"
	"github.com/clusterdesk/clusterdesk/internal/specform"
	"github.com/clusterdesk/clusterdesk/internal/worker"
	"github.com/clusterdesk/clusterdesk/web/static"
)

const serveUsage = `Runs the web server and the background worker until SIGINT or SIGTERM, then
stops gracefully: in-flight requests finish and running jobs complete or are
handed back to the queue. Refuses to start on an out-of-date database schema.
With -web or -worker it runs only that part, so that web servers and workers
scale apart (both against the same database); with neither it runs both.
Configuration: PORTAL_* environment variables (docs/configuration.md).`

func runServe(ctx context.Context, args []string, env lookupFunc, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve [flags]", serveUsage, stdout)
	web := fs.Bool("web", false, "run the web server")
	work := fs.Bool("worker", false, "run the background worker")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(env)
	if err != nil {
		return err
	}
	parts := serveParts{web: *web || !*work, worker: *work || !*web}
	return serveSome(ctx, cfg, cfg.Logger(stderr), stdout, parts)
}

// serveParts says which parts of the portal a process runs.
type serveParts struct{ web, worker bool }

// serve runs the whole portal with a loaded configuration until ctx ends.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer) error {
	return serveSome(ctx, cfg, logger, stdout, serveParts{web: true, worker: true})
}

// serveSome runs the web server, the worker or both until ctx ends, then
// stops them within the shutdown timeout.
func serveSome(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer, parts serveParts) error {
	if err := cfg.CheckServe(); err != nil {
		return err
	}
	if err := checkBehaviour(cfg); err != nil {
		return err
	}
	stopTelemetry, err := startTelemetry(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer stopTelemetry()
	// Read before anything connects: a bad file is a configuration mistake.
	var presets []specform.Preset
	if parts.web {
		var err error
		if presets, err = specform.LoadPresets(cfg.PresetsFile); err != nil {
			return config.Problems{fmt.Sprintf("PORTAL_PRESETS_FILE: %v", err)}
		}
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
	warnPolicyGroupsOutside(ctx, pool, cfg.ApproverGroups, logger)

	measured := newMetrics(pool, logger)
	cloud, err := newCloudClient(cfg, logger, measured)
	if err != nil {
		return err
	}
	if !parts.worker {
		// A worker's first inventory sync lists the clusters at start and
		// logs the outcome; a web-only process checks the API itself.
		go checkCloud(ctx, cloud, logger)
	}

	syncer := newSyncer(pool, cloud, logger)
	var jobs *worker.Worker
	if parts.worker {
		if jobs, err = startWorker(ctx, pool, syncer, cfg, logger, measured); err != nil {
			return err
		}
		// On an early return; after the graceful stop below it does nothing.
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
			defer cancel()
			_ = jobs.Stop(stopCtx)
		}()
		fmt.Fprintln(stdout, "portal: worker running")
	}
	stopMetrics, err := serveMetrics(cfg, measured, logger, stdout)
	if err != nil {
		return err
	}
	defer stopMetrics(context.WithoutCancel(ctx))
	if !parts.web {
		<-ctx.Done()
		logger.Info("stopping", "timeout", cfg.ShutdownTimeout.String())
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		return jobs.Stop(shutdownCtx)
	}

	authCfg := authConfig(cfg, logger)
	authCfg.Recorder = auditRecorder(pool, logger)
	// An unreachable provider does not stop the start: sign-in waits for it
	// (auth.Start retries in the background), sessions and the worker go on.
	authn, err := auth.Start(ctx, pool, authCfg)
	if err != nil {
		return fmt.Errorf("sign-in provider (PORTAL_OIDC_ISSUER=%s): %w", cfg.OIDCIssuer, err)
	}
	go authn.RunCleanup(ctx, 10*time.Minute)

	requests, err := approvalsService(pool, jobs, func(c *approvals.Config) {
		c.Emergency = approvals.EmergencyConfig{Groups: cfg.EmergencyGroups, ReviewWithin: cfg.EmergencyReviewWithin}
	})
	if err != nil {
		return err
	}
	assets, err := static.Load()
	if err != nil {
		return err
	}
	resend, err := resender(pool, jobs)
	if err != nil {
		return err
	}
	notifications, err := newNotify(pool, cfg, logger)
	if err != nil {
		return err
	}
	resendInserter, err := notifyInserter(pool, jobs)
	if err != nil {
		return err
	}
	hub, err := live.Start(ctx, pool, logger)
	if err != nil {
		return fmt.Errorf("live updates: %w", err)
	}
	apiRate := cfg.APIRatePerMinute
	if apiRate == 0 {
		apiRate = -1 // 0 switches the limit off
	}
	jsonAPI := api.New(api.Deps{Logger: logger, DB: pool, Auth: authn, Approvals: requests, Inventory: syncer,
		Cloud: cloud, RatePerMinute: apiRate})
	web := handlers.New(handlers.Deps{
		API:    jsonAPI,
		Logger: logger,
		Assets: assets,
		DB:     pool,
		Auth:   authn,
		Secure: cfg.Secure(),
		// A pending request's page says when it expires.
		RequestExpireAfter: cfg.RequestExpireAfter,

		MaxBodyBytes:   int64(cfg.MaxBodyBytes),
		TrustedProxies: cfg.TrustedProxies,
		// Per replica: each portal process counts on its own.
		RateLimitPerMinute: cfg.RateLimitPerMinute,
		SlowRequest:        cfg.SlowRequest,

		Approvals: requests,
		Inventory: syncer,
		Cloud:     cloud,
		Behaviour: cloudBehaviour(cfg),
		Presets:   presets,
		Live:      hub,
		Resend:    resend,
		Metrics:   measured,

		Notify:         notifications,
		NotifyInserter: resendInserter,
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

	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("web server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("stopping", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	// The web server and the worker wind down side by side, within one
	// timeout.
	workerStopped := make(chan error, 1)
	go func() {
		if jobs == nil {
			workerStopped <- nil
			return
		}
		workerStopped <- jobs.Stop(shutdownCtx)
	}()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		serveErr = errors.Join(serveErr, fmt.Errorf("web server shutdown: %w", err))
	}
	if err := <-workerStopped; err != nil {
		serveErr = errors.Join(serveErr, err)
	}
	if serveErr != nil {
		return serveErr
	}
	logger.Info("stopped")
	return nil
}

// warnPolicyGroupsOutside logs, at warn level, each approver group a policy
// names that PORTAL_APPROVER_GROUPS does not: its members approve nothing
// unless another group gives them the approver role. The portal starts
// anyway; a failed check is logged too.
func warnPolicyGroupsOutside(ctx context.Context, q approvals.Querier, approverGroups []string, logger *slog.Logger) {
	outside, err := approvals.PolicyGroupsOutside(ctx, q, approverGroups)
	if err != nil {
		logger.Warn("cannot check the policies' approver groups", "err", err)
	}
	for _, o := range outside {
		logger.Warn("policy names an approver group outside PORTAL_APPROVER_GROUPS: its members need the approver role to approve",
			"policy", o.Policy, "policy_id", o.PolicyID, "enabled", o.Enabled, "group", o.Group, "approver_groups", approverGroups)
	}
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
		APIAudience:  cfg.APIAudience,
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
