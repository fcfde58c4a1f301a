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

// newSyncer is the inventory syncer shared by the worker (periodic sync,
// submissions) and the web (re-reading a cluster before an approval).
func newSyncer(pool *pgxpool.Pool, cloud *cloudapi.Client, logger *slog.Logger) *inventory.Syncer {
	return inventory.NewSyncer(pool, cloud, inventory.Config{
		OnChange: approvals.ClusterChanged,
		Logger:   logger.With("component", "inventory"),
	})
}

// startWorker starts the background jobs of `portal serve`: audit chain
// verification (and pruning when a retention is set), the inventory sync
// that keeps the cached clusters fresh, marking requests whose cluster moved
// as stale, and the submission of approved requests.
func startWorker(ctx context.Context, pool *pgxpool.Pool, cloud *cloudapi.Client, syncer *inventory.Syncer, cfg config.Config, logger *slog.Logger) (*worker.Worker, error) {
	w, err := worker.New(pool, logger, worker.Options{
		AuditVerifyInterval:   cfg.AuditVerifyInterval,
		AuditRetentionYears:   cfg.AuditRetentionYears,
		Inventory:             syncer,
		InventorySyncInterval: cfg.InventorySyncInterval,
		RescueAfter:           cfg.JobRescueAfter,
		// An attempt without an answer is taken for lost once River could
		// have rescued its job: the process that made it is dead.
		Submission: &worker.SubmissionOptions{API: cloud, Inventory: syncer, InFlightTimeout: cfg.JobRescueAfter,
			TrackInterval: cfg.TrackInterval},
	})
	if err != nil {
		return nil, err
	}
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// approvalsService builds the change-request service: approvals that meet
// the policy enqueue their submission with the worker of this process, or
// with an insert-only client when this process runs no worker.
func approvalsService(pool *pgxpool.Pool, jobs *worker.Worker) (*approvals.Service, error) {
	if jobs != nil {
		return approvals.New(pool, approvals.Config{OnApproved: jobs.OnApproved}), nil
	}
	enqueue, err := worker.Enqueuer(pool)
	if err != nil {
		return nil, err
	}
	return approvals.New(pool, approvals.Config{OnApproved: enqueue}), nil
}

// resender sends failed changes again, with the worker of this process or
// an insert-only client when it runs none.
func resender(pool *pgxpool.Pool, jobs *worker.Worker) (worker.ResendFunc, error) {
	if jobs != nil {
		return jobs.Resend, nil
	}
	return worker.Resender(pool)
}
