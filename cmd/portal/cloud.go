package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/config"
)

// newCloudClient builds the Cloud Manager API client of the service account
// for the web (reads and dry runs, retried by the client); obs, when not
// nil, is told of its calls.
func newCloudClient(cfg config.Config, logger *slog.Logger, obs cloudapi.Observer) (*cloudapi.Client, error) {
	c := cloudConfig(cfg, logger)
	c.Observer = obs
	return cloudapi.New(c)
}

// cloudConfig is the client configuration of the service account; the
// worker's client is built from it by execution.NewClient.
func cloudConfig(cfg config.Config, logger *slog.Logger) cloudapi.Config {
	return cloudapi.Config{
		BaseURL:          cfg.CloudAPIURL,
		TokenURL:         cfg.CloudTokenURL,
		ClientID:         cfg.CloudClientID,
		ClientSecret:     cfg.CloudClientSecret.Reveal(),
		StaticToken:      cfg.CloudToken.Reveal(),
		Timeout:          cfg.CloudTimeout,
		UserAgentVersion: version,
		Behaviour:        cloudBehaviour(cfg),
		Logger:           logger.With("component", "cloudapi"),
	}
}

// cloudBehaviour is what the configuration says of the API where its
// reference is silent.
func cloudBehaviour(cfg config.Config) cloudapi.Behaviour {
	b := cloudapi.Behaviour{
		RestartRoute:  cfg.CloudRestartRoute,
		FillsDefaults: cfg.CloudFillsDefaults,
	}
	for _, s := range cfg.CloudRunningStates {
		b.RunningStates = append(b.RunningStates, cloudapi.ClusterState(s))
	}
	for _, s := range cfg.CloudStoppedStates {
		b.StoppedStates = append(b.StoppedStates, cloudapi.ClusterState(s))
	}
	for _, s := range cfg.CloudBusyStates {
		b.BusyStates = append(b.BusyStates, cloudapi.ClusterState(s))
	}
	for _, h := range cfg.CloudHealthyValues {
		b.HealthyValues = append(b.HealthyValues, cloudapi.HealthStatus(h))
	}
	return b
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
