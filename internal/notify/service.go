package notify

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
)

// Config configures the notifications.
type Config struct {
	// BaseURL is the portal's address people use (PORTAL_BASE_URL): links
	// in messages start with it. Required.
	BaseURL string
	// ApproverRoleGroups are the groups that grant the approver role
	// (PORTAL_APPROVER_GROUPS): "waiting for you" goes to the people in one
	// of them and in one of the policy's approver groups.
	ApproverRoleGroups []string
	// EmergencyGroups are emailed of every emergency (break-glass)
	// change; none: ApproverRoleGroups.
	EmergencyGroups []string
	// HardUpdateGroups are emailed of every hard update sent (every
	// affected server restarted at once); none: nobody beyond the
	// request's own people.
	HardUpdateGroups []string
	// SMTP sends email; without a Host no email is sent.
	SMTP SMTP
	// Endpoints are chat and webhook endpoints from the settings, told of
	// every request besides those stored in the portal.
	Endpoints []Endpoint
	// MaxAttempts bounds the tries of one delivery before it is marked
	// failed; zero means 8. RetryBase is the wait after the first failed
	// try, doubling up to RetryMax; zero means 10 s and 10 min.
	MaxAttempts         int
	RetryBase, RetryMax time.Duration
	// HTTP posts chat and webhook deliveries; nil means a client with a
	// 10 s timeout that follows no redirects.
	HTTP   *http.Client
	Logger *slog.Logger
}

// Service delivers notifications: it runs the notify_event and
// notify_deliver jobs (AddWorkers).
type Service struct {
	pool *pgxpool.Pool
	cfg  Config
}

// New returns the notifications service on pool.
func New(pool *pgxpool.Pool, cfg Config) (*Service, error) {
	if pool == nil || cfg.BaseURL == "" {
		return nil, errors.New("notify: New needs a pool and Config.BaseURL")
	}
	for _, e := range cfg.Endpoints {
		if err := (NewEndpoint{Kind: e.Kind, Name: e.Name, URL: e.URL}).check(); err != nil {
			return nil, err
		}
		if e.Kind == ChannelWebhook {
			if _, err := decodeSecret(e.Secret); err != nil {
				return nil, err
			}
		}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 10 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 10 * time.Minute
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: pool, cfg: cfg}, nil
}

// AddWorkers registers the notification jobs. The client must run the
// Queue queue (QueueConfig).
func (s *Service) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &eventWorker{s: s})
	river.AddWorker(workers, &deliverWorker{s: s})
	river.AddWorker(workers, &digestWorker{s: s})
}

// QueueConfig is the River queue configuration of Queue.
func QueueConfig() river.QueueConfig { return river.QueueConfig{MaxWorkers: 5} }

// backoff is the wait after the n-th failed try (1-based).
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < n && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}
