package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/notify"
	"github.com/clusterdesk/clusterdesk/internal/worker"
)

// newNotify builds the notifications from the PORTAL_SMTP_* and
// PORTAL_NOTIFY_* settings; a bad endpoint setting stops the start.
func newNotify(pool *pgxpool.Pool, cfg config.Config, logger *slog.Logger) (*notify.Service, error) {
	var endpoints []notify.Endpoint
	for i, url := range strings.Split(cfg.NotifyChatWebhooks.Reveal(), ",") {
		if url = strings.TrimSpace(url); url != "" {
			endpoints = append(endpoints, notify.Endpoint{Kind: notify.ChannelChat, Name: fmt.Sprintf("chat-%d (setting)", i+1), URL: url, Enabled: true})
		}
	}
	if cfg.NotifyWebhookURL != "" {
		endpoints = append(endpoints, notify.Endpoint{Kind: notify.ChannelWebhook, Name: "webhook (setting)",
			URL: cfg.NotifyWebhookURL, Secret: cfg.NotifyWebhookSecret.Reveal(), Enabled: true})
	}
	s, err := notify.New(pool, notify.Config{
		BaseURL:            cfg.BaseURL,
		ApproverRoleGroups: cfg.ApproverGroups,
		EmergencyGroups:    cfg.NotifyEmergencyGroups,
		SMTP: notify.SMTP{Host: cfg.SMTPHost, Port: cfg.SMTPPort, TLS: cfg.SMTPTLS, Username: cfg.SMTPUsername,
			Password: cfg.SMTPPassword.Reveal(), From: cfg.SMTPFrom},
		Endpoints:   endpoints,
		MaxAttempts: cfg.NotifyMaxAttempts,
		Logger:      logger.With("component", "notify"),
	})
	if err != nil {
		return nil, config.Problems{"PORTAL_NOTIFY_*: " + err.Error()}
	}
	return s, nil
}

// eventHook is the approvals and execution OnEvent hook: the worker of
// this process inserts the notification job, or an insert-only client
// when it runs none.
func eventHook(pool *pgxpool.Pool, jobs *worker.Worker) (approvals.EventHook, notify.Inserter, error) {
	if jobs != nil {
		return jobs.OnEvent, jobs.Inserter(), nil
	}
	ins, err := worker.NotifyInserter(pool)
	if err != nil {
		return nil, nil, err
	}
	return notify.Hook(ins), ins, nil
}
