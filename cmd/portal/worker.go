package main

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/metrics"
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
func startWorker(ctx context.Context, pool *pgxpool.Pool, syncer *inventory.Syncer, cfg config.Config, logger *slog.Logger, measured *metrics.Metrics) (*worker.Worker, error) {
	opts, err := executionOptions(cfg, syncer, logger, measured)
	if err != nil {
		return nil, err
	}
	notifications, err := newNotify(pool, cfg, logger)
	if err != nil {
		return nil, err
	}
	w, err := worker.New(pool, logger, worker.Options{
		AuditVerifyInterval:   cfg.AuditVerifyInterval,
		AuditRetentionYears:   cfg.AuditRetentionYears,
		Inventory:             syncer,
		InventorySyncInterval: cfg.InventorySyncInterval,
		RescueAfter:           cfg.JobRescueAfter,
		RequestExpireAfter:    cfg.RequestExpireAfter,
		Execution:             &opts,
		DryRunInterval:        worker.DefaultDryRunInterval,
		Observer:              measured,
		Notify:                notifications,
	})
	if err != nil {
		return nil, err
	}
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// executionOptions wires the execution of approved changes: its own
// Cloud Manager client, without retries of its own (execution.NewClient),
// the timings of the configuration, and the metrics of its calls and
// outcomes.
func executionOptions(cfg config.Config, syncer *inventory.Syncer, logger *slog.Logger, measured *metrics.Metrics) (execution.Options, error) {
	c := cloudConfig(cfg, logger)
	c.Observer = measured
	api, err := execution.NewClient(c)
	if err != nil {
		return execution.Options{}, err
	}
	return execution.Options{
		Observe: measured.Submitted,
		API:     api, Inventory: syncer, Behaviour: cloudBehaviour(cfg),
		// An attempt without an answer is taken for lost once River could
		// have rescued its job: the process that made it is dead.
		InFlightTimeout: cfg.JobRescueAfter,
		SettleTime:      cfg.CloudSettleTime,
		TrackInterval:   cfg.TrackInterval,
	}, nil
}

// approvalsService builds the change-request service: approvals that meet
// the policy enqueue their submission, and new revisions their dry run,
// with the worker of this process, or with an insert-only client when
// this process runs no worker.
func approvalsService(pool *pgxpool.Pool, jobs *worker.Worker, configure ...func(*approvals.Config)) (*approvals.Service, error) {
	cfg := approvals.Config{Permissions: governance.Checker{}}
	if jobs != nil {
		cfg.OnApproved, cfg.OnRevision = jobs.OnApproved, jobs.OnRevision
	} else {
		enqueue, err := worker.Enqueuer(pool)
		if err != nil {
			return nil, err
		}
		dryRun, err := worker.RevisionEnqueuer(pool)
		if err != nil {
			return nil, err
		}
		cfg.OnApproved, cfg.OnRevision = enqueue, dryRun
	}
	for _, c := range configure {
		c(&cfg)
	}
	return approvals.New(pool, cfg), nil
}

// resender sends failed changes again, with the worker of this process or
// an insert-only client when it runs none.
func resender(pool *pgxpool.Pool, jobs *worker.Worker) (execution.ResendFunc, error) {
	if jobs != nil {
		return jobs.Resend, nil
	}
	return worker.Resender(pool)
}
