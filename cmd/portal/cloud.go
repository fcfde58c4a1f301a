package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/config"
)

// newCloudClient builds the Cloud Manager API client of the service account.
func newCloudClient(cfg config.Config, logger *slog.Logger) (*cloudapi.Client, error) {
	return cloudapi.New(cloudapi.Config{
		BaseURL:          cfg.CloudAPIURL,
		TokenURL:         cfg.CloudTokenURL,
		ClientID:         cfg.CloudClientID,
		ClientSecret:     cfg.CloudClientSecret.Reveal(),
		StaticToken:      cfg.CloudToken.Reveal(),
		Timeout:          cfg.CloudTimeout,
		UserAgentVersion: version,
		Logger:           logger.With("component", "cloudapi"),
	})
}

// checkCloud lists the clusters once at the start of a web-only process, so a wrong URL or
// credential shows in the log at once rather than at the first change. It
// does not stop the portal: the API may come back.
func checkCloud(ctx context.Context, client *cloudapi.Client, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	clusters, err := client.ListClusters(ctx)
	if err != nil {
		logger.Warn("Cloud Manager API not reachable", "err", err)
		return
	}
	names := make([]string, 0, len(clusters))
	for _, c := range clusters {
		names = append(names, c.Metadata.Name)
	}
	logger.Info("Cloud Manager API reachable", "clusters", len(clusters), "names", names)
}
