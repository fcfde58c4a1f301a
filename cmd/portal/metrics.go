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

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/handlers"
	"github.com/clusterdesk/clusterdesk/internal/metrics"
)

// newMetrics is the registry of this process.
func newMetrics(pool *pgxpool.Pool, logger *slog.Logger) *metrics.Metrics {
	return metrics.New(pool, metrics.Options{Version: version, Logger: logger.With("component", "metrics")})
}

// serveMetrics serves m at /metrics on PORTAL_METRICS_ADDR, a listener of
// its own (the public one never serves them), and prints its address. It
// returns a function that stops the listener; with PORTAL_METRICS_ADDR
// off it serves nothing.
func serveMetrics(cfg config.Config, m *metrics.Metrics, logger *slog.Logger, stdout io.Writer) (func(context.Context), error) {
	if cfg.MetricsAddr == config.MetricsOff {
		return func(context.Context) {}, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (PORTAL_METRICS_ADDR): %w", cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := handlers.HTTPServer(cfg.MetricsAddr, mux, logger)
	srv.WriteTimeout = 30 * time.Second
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "err", err)
		}
	}()
	logger.Info("metrics serving", "addr", ln.Addr().String(), "path", "/metrics")
	fmt.Fprintf(stdout, "portal: metrics on http://%s/metrics\n", ln.Addr())
	return func(ctx context.Context) { _ = srv.Shutdown(ctx) }, nil
}
