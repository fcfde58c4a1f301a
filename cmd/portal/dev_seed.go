package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/seed"
)

// seedDemo adds n times the base amounts of data (seed.Scale: 30 clusters,
// 1,000 requests in every state, 10 versions of one cluster and 10,000
// audit events per unit) to the development portal, through its Cloud
// Manager and database, before it serves. The versions are changes the
// simulator applies one after another at its own pace, so they are added
// in the background while the portal runs (the log says when they are
// done). Each run adds as much again.
func seedDemo(ctx context.Context, cfg config.Config, logger *slog.Logger, n int, stdout io.Writer) error {
	amounts := seed.Scale(n)
	began := time.Now()
	fmt.Fprintf(stdout, "portal dev: seeding %d× demo data: %d clusters, %d requests, %d versions, %d audit events\n",
		n, amounts.Clusters, amounts.Requests, amounts.Versions, amounts.AuditEvents)
	pool, err := database.Open(ctx, cfg.DatabaseURL.Reveal())
	if err != nil {
		return err
	}
	cloud, err := newCloudClient(cfg, logger, nil)
	if err != nil {
		pool.Close()
		return err
	}
	if err := seed.AuditEvents(ctx, pool, amounts.AuditEvents); err != nil {
		pool.Close()
		return err
	}
	uids, err := seed.Clusters(ctx, cloud, amounts.Clusters)
	if err != nil {
		pool.Close()
		return err
	}
	syncer := newSyncer(pool, cloud, logger)
	if _, err := syncer.Sync(ctx); err != nil {
		pool.Close()
		return err
	}
	people, err := seed.Users(ctx, pool, 20)
	if err == nil {
		_, err = seed.Requests(ctx, pool, seed.RequestsOptions{N: amounts.Requests, Requesters: people})
	}
	if err != nil {
		pool.Close()
		return err
	}
	fmt.Fprintf(stdout, "portal dev: seeded in %s; the versions of %s follow in the background\n",
		time.Since(began).Round(time.Second), "seed-00001")
	go func() {
		defer pool.Close()
		if _, err := seed.Versions(ctx, pool, cloud, uids[0], amounts.Versions); err != nil && ctx.Err() == nil {
			logger.Error("seed versions", "err", err)
			return
		}
		logger.Info("seeded the versions", "cluster", "seed-00001", "versions", amounts.Versions)
	}()
	return nil
}
