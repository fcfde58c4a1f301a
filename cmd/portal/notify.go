package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

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
		HardUpdateGroups:   cfg.NotifyHardUpdateGroups,
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

// notifyInserter queues an admin's resend of a notification: with the
// worker of this process, or an insert-only client when it runs none.
// (Events themselves need no inserter here: the worker relays them from
// the audit log, notify.Relay.)
func notifyInserter(pool *pgxpool.Pool, jobs *worker.Worker) (notify.Inserter, error) {
	if jobs != nil {
		return jobs.Inserter(), nil
	}
	return worker.NotifyInserter(pool)
}
