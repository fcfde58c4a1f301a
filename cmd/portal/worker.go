package main

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/worker"
)

// startWorker starts the background jobs of `portal serve`: audit chain
// verification (and pruning when a retention is set) and the inventory sync
// that keeps the cached clusters fresh, marking requests whose cluster moved
// as stale.
func startWorker(ctx context.Context, pool *pgxpool.Pool, cloud *cloudapi.Client, cfg config.Config, logger *slog.Logger) (*worker.Worker, error) {
	syncer := inventory.NewSyncer(pool, cloud, inventory.Config{
		OnChange: approvals.ClusterChanged,
		Logger:   logger.With("component", "inventory"),
	})
	w, err := worker.New(pool, logger, worker.Options{
		AuditVerifyInterval:   cfg.AuditVerifyInterval,
		AuditRetentionYears:   cfg.AuditRetentionYears,
		Inventory:             syncer,
		InventorySyncInterval: cfg.InventorySyncInterval,
	})
	if err != nil {
		return nil, err
	}
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	return w, nil
}
