package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Paths of the sign-in flow, served by the web layer. The provider must know
// BaseURL+CallbackPath as a redirect URI and BaseURL+SignedOutPath as a
// post-logout redirect URI.
const (
	LoginPath     = "/auth/login"
	CallbackPath  = "/auth/callback"
	LogoutPath    = "/auth/logout"
	SignedOutPath = "/auth/signed-out"
)

// Defaults used when the corresponding Config field is zero.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	DefaultLoginTimeout    = 10 * time.Minute
	DefaultGroupsClaim     = "groups"
)

// Config configures sign-in and sessions.
type Config struct {
	// Issuer is the OpenID provider's issuer URL, exactly as its discovery
	// document states it.
	Issuer string
	// ClientID and ClientSecret are the portal's registration at the
	// provider. Without a secret the portal is a public client (PKCE only).
	ClientID     string
	ClientSecret string
	// BaseURL is the portal's external address (PORTAL_BASE_URL); the
	// redirect URIs are built from it.
	BaseURL string
	// Scopes requested; "openid" is added when missing. Nil means openid,
	// profile and email.
	Scopes []string
	// GroupsClaim names the claim carrying the person's groups, read from
	// the ID token and, when absent there, from the userinfo endpoint.
	GroupsClaim string
	// Roles maps groups to roles.
	Roles RoleGroups
	// APIAudience is the audience a token of the provider must name to be
	// taken by the API from a machine (PORTAL_API_AUDIENCE); empty takes
	// none (tokens_machine.go).
	APIAudience string
	// IdleTimeout ends a session not used for that long; AbsoluteTimeout
	// ends any session that old. LoginTimeout bounds the time on the
	// provider's pages.
	IdleTimeout, AbsoluteTimeout, LoginTimeout time.Duration
	// DiscoveryMinBackoff and DiscoveryMaxBackoff bound the wait between
	// attempts to discover a provider that did not answer at Start;
	// defaults 1 s and 1 min.
	DiscoveryMinBackoff, DiscoveryMaxBackoff time.Duration
	// SessionRecheck is how often the sessions behind open event streams are
	// checked (WatchSession), and how long a session read is trusted by
	// the process that read it (a sign-out elsewhere takes effect within
	// it); default 2 s.
	SessionRecheck time.Duration
	// HTTPClient talks to the provider; nil means one with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time
	// Logger receives security events and warnings; nil discards them.
	Logger *slog.Logger
	// Recorder also receives security events, e.g. for the audit log; nil
	// means only the log.
	Recorder Recorder
}

// Service signs people in with OpenID Connect (authorization code flow with
// PKCE), keeps their sessions in PostgreSQL and decides their roles.
type Service struct {
	cfg      Config
	pool     *pgxpool.Pool
	rp       *discovery
	watch    *sessionWatch
	sessions *sessionCache
	logger   *slog.Logger
	recorder Recorder
	now      func() time.Time
}

// New discovers the provider (once; it must answer now) and returns the
// service. A provider whose discovery document names another issuer than
// cfg.Issuer is refused.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Service, error) {
	s, err := newService(pool, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.rp.attempt(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Start is New for a server that must run while the provider is down: it
// returns the service even when the provider does not answer (within a few
// seconds) and keeps discovering it in the background, with backoff, until
// it answers or ctx ends. Until then BeginLogin and FinishLogin return
// ErrProviderUnavailable and ProviderStatus says why; sessions work as ever.
// A provider that answers with something the portal refuses (another
// issuer, no PKCE S256) is an error here as in New.
func Start(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Service, error) {
	s, err := newService(pool, cfg)
	if err != nil {
		return nil, err
	}
	attemptCtx, cancel := context.WithTimeout(ctx, startAttempt)
	err = s.rp.attempt(attemptCtx)
	cancel()
	var refusal *providerRefusal
	switch {
	case err == nil:
		return s, nil
	case errors.As(err, &refusal), ctx.Err() != nil:
		return nil, err
	}
	s.logger.Warn("sign-in provider unreachable; sign-in waits for it, signed-in people go on",
		"issuer", cfg.Issuer, "err", err, "retry_in", s.cfg.DiscoveryMinBackoff.String())
	go s.rp.retry(ctx, time.Now())
	return s, nil
}

// newService checks cfg, fills its defaults and returns a service whose
// provider is not discovered yet.
func newService(pool *pgxpool.Pool, cfg Config) (*Service, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, errors.New("auth: an issuer and a client id are required")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("auth: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"openid", "profile", "email"}
	}
	if !slices.Contains(cfg.Scopes, "openid") {
		cfg.Scopes = append([]string{"openid"}, cfg.Scopes...)
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = DefaultGroupsClaim
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = DefaultLoginTimeout
	}
	if cfg.DiscoveryMinBackoff <= 0 {
		cfg.DiscoveryMinBackoff = DefaultDiscoveryMinBackoff
	}
	if cfg.DiscoveryMaxBackoff <= 0 {
		cfg.DiscoveryMaxBackoff = DefaultDiscoveryMaxBackoff
	}
	if cfg.SessionRecheck <= 0 {
		cfg.SessionRecheck = DefaultSessionRecheck
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, pool: pool, rp: newDiscovery(cfg), logger: cfg.Logger, recorder: cfg.Recorder, now: cfg.Now}
	s.watch = newSessionWatch(s)
	s.sessions = newSessionCache(cfg.SessionRecheck)
	return s, nil
}

// Roles returns the group-to-role mapping in force.
func (s *Service) Roles() RoleGroups { return s.cfg.Roles }

// ProviderOrigin is the scheme and host of the provider's end-session
// endpoint (where sign-out continues), or "" when it has none or is not
// discovered yet. The Content-Security-Policy's form-action must allow it.
func (s *Service) ProviderOrigin() string {
	if rp := s.rp.get(); rp != nil {
		return rp.endSessionOrigin
	}
	return ""
}

// Timeouts returns the idle and absolute session timeouts in force.
func (s *Service) Timeouts() (idle, absolute time.Duration) {
	return s.cfg.IdleTimeout, s.cfg.AbsoluteTimeout
}

// LoginTimeout is how long a started sign-in stays valid.
func (s *Service) LoginTimeout() time.Duration { return s.cfg.LoginTimeout }
