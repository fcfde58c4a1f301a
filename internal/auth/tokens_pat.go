package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// Scope is what a personal access token may be used for. A token holds one
// or more; the API checks them on top of the person's roles, never instead.
type Scope string

// The scopes.
const (
	// ScopeRead reads clusters, requests and, for auditors, the audit log.
	ScopeRead Scope = "read"
	// ScopeRequest files, edits, rebases and cancels change requests.
	ScopeRequest Scope = "request"
	// ScopeApprove approves and rejects other people's change requests.
	ScopeApprove Scope = "approve"
)

// Scopes lists every scope.
func Scopes() []Scope { return []Scope{ScopeRead, ScopeRequest, ScopeApprove} }

// TokenPrefix starts every personal access token, so that secret scanners
// and people recognise one.
const TokenPrefix = "cdp_"

// MaxTokenLifetime bounds how long a personal access token lives.
const MaxTokenLifetime = 366 * 24 * time.Hour

// Errors of personal access tokens.
var (
	// ErrTokenInvalid: the bearer token is unknown, revoked or expired. The
	// API does not say which, so that a guess learns nothing.
	ErrTokenInvalid = errors.New("auth: invalid, revoked or expired token")
	// ErrTokenNotFound: the person has no such token.
	ErrTokenNotFound = errors.New("auth: no such token")
	// ErrTokenInput: a token's name, scopes or lifetime are wrong (the
	// message says which).
	ErrTokenInput = errors.New("auth: invalid token settings")
)

// Token is a personal access token as its owner sees it in the list: never
// the secret, which is shown once, by CreateToken.
type Token struct {
	ID         int64
	UserID     int64
	Name       string
	Prefix     string
	Scopes     []Scope
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
	LastUsedIP string
}

// Active reports whether the token still lets its owner in at now.
func (t Token) Active(now time.Time) bool { return t.RevokedAt == nil && now.Before(t.ExpiresAt) }

// Has reports whether the token holds scope.
func (t Token) Has(scope Scope) bool { return slices.Contains(t.Scopes, scope) }

// NewToken is what a person asks for on their profile page.
type NewToken struct {
	Name   string
	Scopes []Scope
	// Lifetime is how long the token lives, at most MaxTokenLifetime.
	Lifetime time.Duration
}

// Principal is who a bearer token stands for: a person through one of
// their personal access tokens, or a machine through a token of the
// OpenID provider (Machine). User.Roles are derived from the groups as for
// a session.
type Principal struct {
	User User
	// Machine is true for a service identity: it may read and request, and
	// never approves or rejects.
	Machine bool
	// Token is the personal access token used; zero for a machine.
	Token Token
	// Via names the credential in the audit log: the token's name, or the
	// provider's client for a machine.
	Via string
}

// Has reports whether the credential allows scope. A machine's token
// allows reading and requesting; approving is for people only.
func (p Principal) Has(scope Scope) bool {
	if p.Machine {
		return scope == ScopeRead || scope == ScopeRequest
	}
	return p.Token.Has(scope)
}

// CreateToken makes a personal access token for user and returns its
// secret, which is never shown again, with the stored token. The creation
// is in the audit log (without the secret). Errors: ErrTokenInput.
func (s *Service) CreateToken(ctx context.Context, user User, in NewToken, origin audit.Origin) (string, Token, error) {
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		return "", Token{}, fmt.Errorf("%w: a name is required", ErrTokenInput)
	case utf8.RuneCountInString(name) > 100:
		return "", Token{}, fmt.Errorf("%w: keep the name under 100 characters", ErrTokenInput)
	case len(in.Scopes) == 0:
		return "", Token{}, fmt.Errorf("%w: choose at least one scope", ErrTokenInput)
	case in.Lifetime <= 0 || in.Lifetime > MaxTokenLifetime:
		return "", Token{}, fmt.Errorf("%w: a token lives between a day and a year", ErrTokenInput)
	}
	scopes := make([]string, 0, len(in.Scopes))
	for _, sc := range in.Scopes {
		if !slices.Contains(Scopes(), sc) {
			return "", Token{}, fmt.Errorf("%w: unknown scope %q", ErrTokenInput, sc)
		}
		if !slices.Contains(scopes, string(sc)) {
			scopes = append(scopes, string(sc))
		}
	}
	secret := TokenPrefix + newToken()
	now := s.now().UTC()
	t := Token{UserID: user.ID, Name: name, Prefix: secret[:len(TokenPrefix)+6], CreatedAt: now, ExpiresAt: now.Add(in.Lifetime)}
	for _, sc := range scopes {
		t.Scopes = append(t.Scopes, Scope(sc))
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO api_tokens (user_id, name, secret_hash, prefix, scopes, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			user.ID, t.Name, hashToken(secret), t.Prefix, scopes, t.CreatedAt, t.ExpiresAt).Scan(&t.ID)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: you already have a token named %q", ErrTokenInput, name)
		}
		if err != nil {
			return err
		}
		return appendTokenEvent(ctx, tx, user, audit.AuthTokenCreated, t, origin)
	})
	if err != nil {
		return "", Token{}, fmt.Errorf("auth: create token: %w", err)
	}
	return secret, t, nil
}

// Tokens lists user's personal access tokens, live ones first, newest first.
func (s *Service) Tokens(ctx context.Context, userID int64) ([]Token, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT id, user_id, name, prefix, scopes, created_at, expires_at, revoked_at, last_used_at, last_used_ip
		FROM api_tokens WHERE user_id = $1
		ORDER BY revoked_at IS NOT NULL, id DESC`, userID)
	list, err := pgx.CollectRows(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	return list, nil
}

// RevokeToken ends user's token id at once; revoking a revoked token is no
// error. The revocation is in the audit log. Errors: ErrTokenNotFound
// (not theirs, or no such token).
func (s *Service) RevokeToken(ctx context.Context, user User, id int64, origin audit.Origin) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		row, _ := tx.Query(ctx, `
			UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $3)
			WHERE id = $1 AND user_id = $2
			RETURNING id, user_id, name, prefix, scopes, created_at, expires_at, revoked_at, last_used_at, last_used_ip`,
			id, user.ID, s.now().UTC())
		t, err := pgx.CollectExactlyOneRow(row, scanToken)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrTokenNotFound
		}
		if err != nil {
			return err
		}
		return appendTokenEvent(ctx, tx, user, audit.AuthTokenRevoked, t, origin)
	})
	if err != nil {
		return fmt.Errorf("auth: revoke token %d: %w", id, err)
	}
	return nil
}

// tokenTouchInterval is how stale last_used_at may get before a call
// writes it again, so that most calls read only.
const tokenTouchInterval = time.Minute

// AuthenticateToken finds the live personal access token secret and its
// owner, with the owner's roles from their groups at their last sign-in,
// and notes its use (at most once a minute). Errors: ErrTokenInvalid.
func (s *Service) AuthenticateToken(ctx context.Context, secret, ip string) (Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return Principal{}, ErrTokenInvalid
	}
	var p Principal
	t, u := &p.Token, &p.User
	var scopes []string
	err := s.pool.QueryRow(ctx, `
		SELECT t.id, t.user_id, t.name, t.prefix, t.scopes, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.last_used_ip,
		       u.id, u.issuer, u.subject, u.username, u.name, u.email, u.groups, u.last_login_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.secret_hash = $1 AND NOT u.machine`, hashToken(secret)).
		Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &scopes, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &t.LastUsedAt, &t.LastUsedIP,
			&u.ID, &u.Issuer, &u.Subject, &u.Username, &u.Name, &u.Email, &u.Groups, &u.LastLogin)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrTokenInvalid
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: read token: %w", err)
	}
	now := s.now()
	if !t.Active(now) {
		return Principal{}, ErrTokenInvalid
	}
	for _, sc := range scopes {
		t.Scopes = append(t.Scopes, Scope(sc))
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= tokenTouchInterval || t.LastUsedIP != ip {
		if _, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2, last_used_ip = $3 WHERE id = $1`, t.ID, now.UTC(), ip); err != nil {
			return Principal{}, fmt.Errorf("auth: note token use: %w", err)
		}
		used := now.UTC()
		t.LastUsedAt, t.LastUsedIP = &used, ip
	}
	u.Roles = s.cfg.Roles.Roles(u.Groups)
	p.Via = "token " + strconv.Quote(t.Name)
	return p, nil
}

func scanToken(row pgx.CollectableRow) (Token, error) {
	var t Token
	var scopes []string
	err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &scopes, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &t.LastUsedAt, &t.LastUsedIP)
	for _, sc := range scopes {
		t.Scopes = append(t.Scopes, Scope(sc))
	}
	return t, err
}

// appendTokenEvent records a token's creation or revocation: who, which
// token (id, name, scopes, expiry), never its secret.
func appendTokenEvent(ctx context.Context, tx pgx.Tx, user User, action audit.Action, t Token, origin audit.Origin) error {
	scopes := make([]string, len(t.Scopes))
	for i, sc := range t.Scopes {
		scopes[i] = string(sc)
	}
	_, err := audit.Append(ctx, tx, audit.Event{
		Actor:   audit.User(strconv.FormatInt(user.ID, 10), cmpOr(user.Name, user.Username)),
		Action:  action,
		Subject: audit.Subject{Type: audit.SubjectUser, ID: strconv.FormatInt(user.ID, 10)},
		Origin:  origin,
		Data: map[string]any{
			// Not "token_…": the audit log redacts such keys as secrets.
			"id": t.ID, "name": t.Name, "prefix": t.Prefix, "scopes": scopes,
			"expires_at": t.ExpiresAt.UTC().Format(time.RFC3339),
		},
	})
	return err
}

func isUniqueViolation(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pgErr.Code == "23505"
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
