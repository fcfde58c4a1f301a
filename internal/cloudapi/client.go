package cloudapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Client. Give either StaticToken or the three
// client-credentials fields.
type Config struct {
	// BaseURL is the API root with its /api/v1 prefix, e.g.
	// https://acme.implycloud.com/api/v1. It must use https, except for a
	// loopback host (the simulator).
	BaseURL string

	// TokenURL, ClientID and ClientSecret obtain tokens with the OAuth
	// client-credentials grant, e.g. TokenURL
	// https://id.imply.io/auth/realms/{organization}/protocol/openid-connect/token
	// (inferred, BEHAVIOUR.md §2).
	TokenURL     string
	ClientID     string
	ClientSecret string

	// StaticToken is a bearer token obtained elsewhere; it is never
	// renewed, so a 401 is returned to the caller.
	StaticToken string

	// Timeout bounds each attempt of a call and each token fetch.
	// Zero means 30 s.
	Timeout time.Duration

	// Retry governs retries of safe calls; the zero value is sensible.
	Retry RetryPolicy

	// HTTPClient, when set, carries every request (e.g. a proxy, or a test
	// wrapper). Its Transport, Timeout and CheckRedirect are kept.
	HTTPClient *http.Client

	// UserAgentVersion is sent as User-Agent "Clusterdesk/<version>".
	// Empty means "dev".
	UserAgentVersion string

	// Logger receives one debug record per attempt, a warning per retry
	// and one per listed cluster that could not be read. Nil discards.
	// Records never contain tokens, secrets or bodies.
	Logger *slog.Logger

	// Behaviour is what the client assumes where the API's reference is
	// silent; the zero value means DefaultBehaviour. New refuses a
	// behaviour that does not pass Validate.
	Behaviour Behaviour

	// Observer, when set, is told of every attempt and token request
	// (observer.go).
	Observer Observer
}

// String describes the configuration with its secrets masked.
func (c Config) String() string {
	return fmt.Sprintf("cloudapi.Config{BaseURL: %q, TokenURL: %q, ClientID: %q, ClientSecret: %s, StaticToken: %s, Timeout: %s}",
		c.BaseURL, c.TokenURL, c.ClientID, mask(c.ClientSecret), mask(c.StaticToken), c.Timeout)
}

// GoString masks secrets in %#v too.
func (c Config) GoString() string { return c.String() }

// LogValue masks secrets when the configuration is logged with slog.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("token_url", c.TokenURL),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", mask(c.ClientSecret)),
		slog.String("static_token", mask(c.StaticToken)),
	)
}

func mask(secret string) string {
	if secret == "" {
		return `""`
	}
	return "[redacted]"
}

// Client calls the Cloud Manager API. It is safe for concurrent use; share
// one per process so that callers share the token and connections.
type Client struct {
	base      *url.URL
	http      *http.Client
	tokens    tokenProvider
	retry     RetryPolicy
	timeout   time.Duration
	userAgent string
	log       *slog.Logger
	behaviour Behaviour // completed with the defaults
	observer  Observer
}

// maxResponseBody bounds how much of a reply is read.
const maxResponseBody = 16 << 20

// New checks cfg and returns a Client. It makes no network call; a wrong
// secret shows up on the first call as a token error.
func New(cfg Config) (*Client, error) {
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	behaviour := cfg.Behaviour.WithDefaults()
	if err := behaviour.Validate(); err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	version := cfg.UserAgentVersion
	if version == "" {
		version = "dev"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	observer := cfg.Observer
	if observer == nil {
		observer = noObserver{}
	}
	c := &Client{
		observer:  observer,
		base:      base,
		retry:     cfg.Retry.withDefaults(),
		timeout:   timeout,
		userAgent: "Clusterdesk/" + version,
		log:       logger,
		behaviour: behaviour,
	}
	c.http = newHTTPClient(cfg.HTTPClient, timeout, c.userAgent)

	credentials := cfg.TokenURL != "" || cfg.ClientID != "" || cfg.ClientSecret != ""
	switch {
	case cfg.StaticToken != "" && credentials:
		return nil, errors.New("cloudapi: give either StaticToken or client credentials, not both")
	case cfg.StaticToken != "":
		c.tokens = staticToken(cfg.StaticToken)
	case cfg.TokenURL == "" || cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, errors.New("cloudapi: TokenURL, ClientID and ClientSecret are all required (or give StaticToken)")
	default:
		if _, err := parseBaseURL(cfg.TokenURL); err != nil {
			return nil, fmt.Errorf("cloudapi: TokenURL: %w", err)
		}
		c.tokens = newClientCredentials(cfg.TokenURL, cfg.ClientID, cfg.ClientSecret, c.http, observer)
	}
	return c, nil
}

// Behaviour returns the behaviour the client was configured with, its
// empty fields completed with the defaults. The result is a copy: changing
// it changes nothing in the client.
func (c *Client) Behaviour() Behaviour { return c.behaviour.WithDefaults() }

// parseBaseURL accepts an absolute https URL, or http for loopback hosts.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("cloudapi: base URL %q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("cloudapi: URL %q must use https (plain http only for loopback hosts)", raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// request describes one API call.
type request struct {
	op          Operation
	method      string
	path        string // below BaseURL, segments already escaped
	query       url.Values
	body        []byte
	contentType string
	// oneShot marks a call that is never sent again once it may have
	// reached the service, whatever its method (POST always is).
	oneShot bool
}

// send performs req with retries and one token refresh after a 401, and
// returns the reply body of the 2xx answer (possibly empty).
func (c *Client) send(ctx context.Context, req request) ([]byte, error) {
	refreshed := false
	for n := 1; ; n++ {
		body, res := c.attempt(ctx, req)
		if res.err == nil {
			return body, nil
		}
		err := res.err
		// 401: the service refused before acting, so any call may be sent
		// again, once, with a fresh token (BEHAVIOUR.md §2: retry once).
		if res.status == http.StatusUnauthorized && !refreshed && c.tokens.invalidate(res.token) {
			refreshed = true
			n--
			continue
		}
		safe := (req.method != http.MethodPost && !req.oneShot) || !res.sent
		if !safe || n >= c.retry.MaxAttempts || !IsRetryable(err) || ctx.Err() != nil {
			return nil, err
		}
		wait, ok := c.retry.wait(n, err)
		if !ok {
			return nil, err
		}
		c.log.WarnContext(ctx, "cloudapi: retrying", "op", req.op, "attempt", n, "wait", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, err
		case <-timer.C:
		}
	}
}

// result describes a failed attempt.
type result struct {
	err    error
	status int    // HTTP status, 0 without a reply
	token  string // the bearer token sent
	sent   bool   // whether the request may have reached the service
}

func (c *Client) attempt(ctx context.Context, req request) (_ []byte, res result) {
	token, err := c.tokens.token(ctx)
	if err != nil {
		return nil, result{err: err}
	}
	start := time.Now()
	defer func() { c.observer.CallDone(req.op, res.status, res.err, time.Since(start)) }()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	target := c.base.String() + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	httpReq, err := http.NewRequestWithContext(ctx, req.method, target, body)
	if err != nil {
		return nil, result{err: fmt.Errorf("cloudapi: %s: %w", req.op, err)}
	}
	httpReq.Header.Set("Authorization", "Bearer "+token)
	httpReq.Header.Set("Accept", "application/json")
	if req.body != nil {
		httpReq.Header.Set("Content-Type", req.contentType)
	}

	resp, err := c.http.Do(httpReq)
	if err != nil {
		c.log.DebugContext(ctx, "cloudapi: call failed", "op", req.op, "method", req.method, "path", req.path, "duration", time.Since(start), "err", err)
		return nil, result{err: fmt.Errorf("cloudapi: %s: %w", req.op, err), token: token, sent: !isDialError(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	c.log.DebugContext(ctx, "cloudapi: call", "op", req.op, "method", req.method, "path", req.path, "status", resp.StatusCode, "duration", time.Since(start))
	failed := result{status: resp.StatusCode, token: token, sent: true}
	switch {
	case err != nil:
		failed.err = fmt.Errorf("cloudapi: %s: read reply: %w", req.op, err)
		return nil, failed
	case len(data) > maxResponseBody:
		failed.err = fmt.Errorf("cloudapi: %s: reply larger than %d bytes", req.op, maxResponseBody)
		return nil, failed
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		failed.err = newAPIError(req.op, resp, data)
		return nil, failed
	}
	return data, result{status: resp.StatusCode}
}

// isDialError reports whether err happened before a connection existed, so
// the request cannot have reached the service.
func isDialError(err error) bool {
	opErr, ok := errors.AsType[*net.OpError](err)
	return ok && opErr.Op == "dial"
}
