package devidp

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Default lifetimes used when the corresponding Config field is zero.
const (
	DefaultIDTokenTTL     = time.Hour
	DefaultAccessTokenTTL = time.Hour
)

const (
	// authRequestTTL bounds how long a started login may sit on the login page.
	authRequestTTL = 30 * time.Minute
	// codeTTL is the lifetime of an authorization code (RFC 6749 recommends at most 10 minutes).
	codeTTL = 5 * time.Minute

	pathLogin       = "/login"
	pathLoginSelect = "/login/select"
	pathLoginCancel = "/login/cancel"
	pathLoggedOut   = "/logged-out"

	// GroupsClaim is the name of the claim carrying the user's groups, both in
	// the ID token and in the userinfo response.
	GroupsClaim = "groups"
	// groupsScope may be requested by relying parties that expect it; groups are
	// returned whether or not it is requested.
	groupsScope = "groups"
)

// Client is an OAuth 2.0 client (relying party) registered with the provider.
//
// A client with a Secret is confidential: it must authenticate at the token
// endpoint with client_secret_basic or client_secret_post. A client without a
// Secret is public (token_endpoint_auth_method "none"). PKCE with S256 is
// required for every client.
type Client struct {
	ID, Secret             string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
}

// User is a test user offered on the login page.
type User struct {
	Subject  string // the stable "sub" claim
	Username string // the "preferred_username" claim; also the login form value
	Name     string
	Email    string
	Groups   []string // the "groups" claim; nil or empty means no groups
}

// Config configures a Provider.
type Config struct {
	// Issuer is the issuer identifier and the external base URL of the
	// provider, e.g. "http://localhost:8082". It must be an absolute http or
	// https URL without a path, query or fragment. The handler serves all its
	// endpoints relative to the root of that URL.
	Issuer string
	// Clients are the registered relying parties; at least one is required.
	Clients []Client
	// Users are offered on the login page; nil means DefaultUsers().
	Users []User
	// IDTokenTTL and AccessTokenTTL default to DefaultIDTokenTTL and
	// DefaultAccessTokenTTL when zero.
	IDTokenTTL, AccessTokenTTL time.Duration
	// Logger receives the provider's own log lines (logins, logouts, code
	// reuse); nil discards them. Note that the zitadel op library itself logs
	// through slog.Default.
	Logger *slog.Logger
	// TweakIDToken, if set, makes the provider misbehave: it is applied to
	// every ID token the token endpoint issues. See IDTokenTweak and
	// Provider.SetIDTokenTweak, which replaces it at run time.
	TweakIDToken IDTokenTweak
}

// DefaultUsers returns the built-in test users. Every call returns a fresh
// copy that the caller may modify.
func DefaultUsers() []User {
	return []User{
		{Subject: "devidp-alice", Username: "alice", Name: "Alice Anderson", Email: "alice@example.com", Groups: []string{"developers"}},
		{Subject: "devidp-bob", Username: "bob", Name: "Bob Brown", Email: "bob@example.com", Groups: []string{"developers", "approvers"}},
		{Subject: "devidp-carol", Username: "carol", Name: "Carol Clark", Email: "carol@example.com", Groups: []string{"approvers"}},
		{Subject: "devidp-dave", Username: "dave", Name: "Dave Davis", Email: "dave@example.com", Groups: []string{"admins"}},
		{Subject: "devidp-erin", Username: "erin", Name: "Erin Evans", Email: "erin@example.com", Groups: []string{"auditors"}},
		{Subject: "devidp-mallory", Username: "mallory", Name: "Mallory Moore", Email: "mallory@example.com", Groups: []string{}},
	}
}

// Provider is an in-memory OpenID Provider for development and tests. It
// implements http.Handler; see the package documentation for the endpoints.
type Provider struct {
	issuer  string
	log     *slog.Logger
	store   *storage
	op      *op.Provider
	handler http.Handler

	tweakMu sync.RWMutex
	tweak   IDTokenTweak

	foreignKeyOnce sync.Once
	foreignKey     *rsa.PrivateKey
	foreignKeyErr  error
}

// New validates cfg and creates a Provider with a freshly generated RSA
// signing key. All state (login requests, codes, tokens) is kept in memory
// and is lost when the Provider is discarded.
func New(cfg Config) (*Provider, error) {
	issuer, err := validateIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	users := cfg.Users
	if users == nil {
		users = DefaultUsers()
	}
	if err := validateUsers(users); err != nil {
		return nil, err
	}
	if err := validateClients(cfg.Clients); err != nil {
		return nil, err
	}
	if cfg.IDTokenTTL < 0 || cfg.AccessTokenTTL < 0 {
		return nil, errors.New("devidp: token lifetimes must not be negative")
	}
	if cfg.IDTokenTTL == 0 {
		cfg.IDTokenTTL = DefaultIDTokenTTL
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	signingKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devidp: generating signing key: %w", err)
	}
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		return nil, fmt.Errorf("devidp: generating token encryption key: %w", err)
	}

	p := &Provider{issuer: issuer, log: logger, tweak: cfg.TweakIDToken}
	p.store = newStorage(storageConfig{
		issuer:         issuer,
		clients:        cfg.Clients,
		users:          users,
		idTokenTTL:     cfg.IDTokenTTL,
		accessTokenTTL: cfg.AccessTokenTTL,
		signingKey:     signingKey,
		keyID:          rand.Text(),
		log:            logger,
	})

	opConfig := &op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: issuer + pathLoggedOut,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, groupsScope},
		SupportedClaims: []string{
			"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash",
			"name", "preferred_username", "email", "email_verified", GroupsClaim,
		},
	}
	var opts []op.Option
	if strings.HasPrefix(issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(opConfig, p.store, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("devidp: creating OpenID provider: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.handleIndex)
	mux.HandleFunc("GET "+pathLogin, p.handleLoginPage)
	mux.HandleFunc("POST "+pathLoginSelect, p.handleLoginSelect)
	mux.HandleFunc("POST "+pathLoginCancel, p.handleLoginCancel)
	mux.HandleFunc("GET "+pathLoggedOut, p.handleLoggedOut)
	mux.HandleFunc("GET /favicon.ico", handleFavicon)
	mux.Handle(p.op.TokenEndpoint().Relative(), p.tweakTokenResponse(p.op))
	mux.Handle("/", p.op)
	p.handler = mux
	return p, nil
}

// ServeHTTP serves the OpenID Provider endpoints and the login pages.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.handler.ServeHTTP(w, r)
}

// Issuer returns the issuer identifier the provider was configured with.
func (p *Provider) Issuer() string { return p.issuer }

// Users returns a copy of the users offered on the login page.
func (p *Provider) Users() []User { return p.store.userList() }

func validateIssuer(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("devidp: invalid issuer %q: %w", issuer, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("devidp: issuer %q must be an absolute http or https URL", issuer)
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("devidp: issuer %q must not have a path, query, fragment or user info", issuer)
	}
	return issuer, nil
}

func validateUsers(users []User) error {
	if len(users) == 0 {
		return errors.New("devidp: at least one user is required")
	}
	subjects := make(map[string]bool, len(users))
	usernames := make(map[string]bool, len(users))
	for i, u := range users {
		if u.Subject == "" || u.Username == "" {
			return fmt.Errorf("devidp: user %d needs a Subject and a Username", i)
		}
		if subjects[u.Subject] {
			return fmt.Errorf("devidp: duplicate user subject %q", u.Subject)
		}
		if usernames[u.Username] {
			return fmt.Errorf("devidp: duplicate username %q", u.Username)
		}
		subjects[u.Subject], usernames[u.Username] = true, true
	}
	return nil
}

func validateClients(clients []Client) error {
	if len(clients) == 0 {
		return errors.New("devidp: at least one client is required")
	}
	ids := make(map[string]bool, len(clients))
	for i, c := range clients {
		if c.ID == "" {
			return fmt.Errorf("devidp: client %d needs an ID", i)
		}
		if ids[c.ID] {
			return fmt.Errorf("devidp: duplicate client ID %q", c.ID)
		}
		ids[c.ID] = true
		if len(c.RedirectURIs) == 0 {
			return fmt.Errorf("devidp: client %q needs at least one redirect URI", c.ID)
		}
		for _, uris := range [][]string{c.RedirectURIs, c.PostLogoutRedirectURIs} {
			for _, raw := range uris {
				u, err := url.Parse(raw)
				if err != nil || !u.IsAbs() || u.Fragment != "" {
					return fmt.Errorf("devidp: client %q: invalid redirect URI %q", c.ID, raw)
				}
			}
		}
	}
	return nil
}
