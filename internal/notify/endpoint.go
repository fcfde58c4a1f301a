package notify

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// Endpoint is a chat channel (a Slack-compatible incoming webhook) or a
// generic webhook receiver. URL and Secret are secrets: pages show
// Endpoint.Host only, and the secret once, when it is made.
type Endpoint struct {
	// ID is 0 for an endpoint from the settings (PORTAL_NOTIFY_*).
	ID   int64
	Kind Channel // ChannelChat or ChannelWebhook
	Name string
	URL  string
	// Secret signs a webhook's deliveries (whsec_<base64>).
	Secret string
	// Environment and PolicyID narrow the requests it hears of; empty and
	// zero mean all.
	Environment string
	PolicyID    int64
	Enabled     bool
	CreatedAt   time.Time
}

// Host is what pages show of the endpoint's address: scheme and host,
// never the path or query that may carry a token.
func (e Endpoint) Host() string {
	u, err := url.Parse(e.URL)
	if err != nil {
		return "(invalid address)"
	}
	return u.Scheme + "://" + u.Host
}

// FromSettings is true for an endpoint configured by PORTAL_NOTIFY_*,
// which the portal cannot change.
func (e Endpoint) FromSettings() bool { return e.ID == 0 }

// key names the endpoint in idempotency keys (and so in webhook-id):
// its id, or for one from the settings its name in letters, digits and
// dashes.
func (e Endpoint) key() string {
	if e.ID != 0 {
		return "endpoint-" + itoa(e.ID)
	}
	return "setting-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, e.Name)
}

// hears reports whether e is told of a request in environment under
// policy.
func (e Endpoint) hears(environment string, policy int64) bool {
	return e.Enabled && (e.Environment == "" || e.Environment == environment) && (e.PolicyID == 0 || e.PolicyID == policy)
}

// NewSecret makes a webhook signing secret: whsec_ and 24 random bytes in
// base64, as the Standard Webhooks scheme writes them.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand never fails on supported systems
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// NewEndpoint is an admin's new endpoint.
type NewEndpoint struct {
	Kind        Channel
	Name        string
	URL         string
	Environment string
	PolicyID    int64
}

// ErrInvalid is returned for an endpoint that cannot be stored.
var ErrInvalid = errors.New("invalid")

func (n NewEndpoint) check() error {
	if n.Kind != ChannelChat && n.Kind != ChannelWebhook {
		return fmt.Errorf("%w: kind must be chat or webhook", ErrInvalid)
	}
	if strings.TrimSpace(n.Name) == "" {
		return fmt.Errorf("%w: give the endpoint a name", ErrInvalid)
	}
	u, err := url.Parse(n.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: the address must be an http(s) URL", ErrInvalid)
	}
	return nil
}

// EndpointAdd stores n, made by actor, with its audit event (which names
// the endpoint and its host, never its URL or secret), and returns it; a
// webhook's Secret is in the result, to be shown once.
func EndpointAdd(ctx context.Context, tx pgx.Tx, actor audit.Actor, origin audit.Origin, createdBy int64, n NewEndpoint) (Endpoint, error) {
	if err := n.check(); err != nil {
		return Endpoint{}, fmt.Errorf("notify: add endpoint: %w", err)
	}
	e := Endpoint{Kind: n.Kind, Name: strings.TrimSpace(n.Name), URL: n.URL, Environment: strings.TrimSpace(n.Environment),
		PolicyID: n.PolicyID, Enabled: true}
	if e.Kind == ChannelWebhook {
		e.Secret = NewSecret()
	}
	var policy, by *int64
	if e.PolicyID != 0 {
		policy = &e.PolicyID
	}
	if createdBy != 0 {
		by = &createdBy
	}
	err := tx.QueryRow(ctx, `
		INSERT INTO notify_endpoints (kind, name, url, secret, environment, policy_id, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at`,
		string(e.Kind), e.Name, e.URL, e.Secret, e.Environment, policy, by).Scan(&e.ID, &e.CreatedAt)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23505" {
		return Endpoint{}, fmt.Errorf("notify: add endpoint: %w: an endpoint named %q exists", ErrInvalid, e.Name)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("notify: add endpoint %q: %w", e.Name, err)
	}
	_, err = audit.Append(ctx, tx, audit.Event{Actor: actor, Action: audit.NotifyEndpointAdded, Origin: origin,
		Subject: audit.Subject{Type: audit.SubjectEndpoint, ID: itoa(e.ID)},
		Data: map[string]any{"name": e.Name, "kind": string(e.Kind), "host": e.Host(), "environment": e.Environment,
			"policy_id": e.PolicyID}})
	if err != nil {
		return Endpoint{}, fmt.Errorf("notify: add endpoint %q: %w", e.Name, err)
	}
	return e, nil
}

// EndpointRemove deletes endpoint id (ErrNotFound), with its audit event.
// Its deliveries stay in the log.
func EndpointRemove(ctx context.Context, tx pgx.Tx, actor audit.Actor, origin audit.Origin, id int64) error {
	var name, kind string
	err := tx.QueryRow(ctx, `DELETE FROM notify_endpoints WHERE id = $1 RETURNING name, kind`, id).Scan(&name, &kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("notify: remove endpoint %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("notify: remove endpoint %d: %w", id, err)
	}
	_, err = audit.Append(ctx, tx, audit.Event{Actor: actor, Action: audit.NotifyEndpointRemoved, Origin: origin,
		Subject: audit.Subject{Type: audit.SubjectEndpoint, ID: itoa(id)},
		Data:    map[string]any{"name": name, "kind": kind}})
	if err != nil {
		return fmt.Errorf("notify: remove endpoint %d: %w", id, err)
	}
	return nil
}

// EndpointList returns the endpoints stored in the portal, by kind and
// name.
func EndpointList(ctx context.Context, q Querier) ([]Endpoint, error) {
	rows, err := q.Query(ctx, `
		SELECT id, kind, name, url, secret, environment, coalesce(policy_id, 0), enabled, created_at
		FROM notify_endpoints ORDER BY kind, name`)
	if err != nil {
		return nil, fmt.Errorf("notify: endpoint list: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Endpoint, error) {
		var (
			e    Endpoint
			kind string
		)
		err := row.Scan(&e.ID, &kind, &e.Name, &e.URL, &e.Secret, &e.Environment, &e.PolicyID, &e.Enabled, &e.CreatedAt)
		e.Kind = Channel(kind)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("notify: endpoint list: %w", err)
	}
	return list, nil
}

// Endpoints returns every endpoint deliveries may go to: the settings',
// then the portal's.
func (s *Service) Endpoints(ctx context.Context) ([]Endpoint, error) { return s.endpoints(ctx) }
