package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/telemetry"
)

// startTelemetry prints the effective configuration, secrets redacted, as
// one log line, starts tracing when the OTEL_* variables ask for it, and
// returns the function that flushes the spans still buffered at the stop.
func startTelemetry(ctx context.Context, cfg config.Config, logger *slog.Logger) (func(), error) {
	tracing, err := telemetry.Setup(ctx, version, logger)
	if err != nil {
		return nil, err
	}
	logger.InfoContext(ctx, "configuration", "version", version, "settings", cfg, "tracing", tracing)
	return func() {
		// Within its own bound: the shutdown timeout may be spent.
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(flushCtx); err != nil {
			logger.Warn("tracing: spans lost at the stop", "err", err)
		}
	}, nil
}
