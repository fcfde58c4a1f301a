package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

type storageConfig struct {
	issuer         string
	clients        []Client
	users          []User
	idTokenTTL     time.Duration
	accessTokenTTL time.Duration
	signingKey     *rsa.PrivateKey
	keyID          string
	log            *slog.Logger
}

// codeGrant records an issued authorization code.
type codeGrant struct {
	authRequestID string
	expires       time.Time
	redeemed      bool
}

type accessToken struct {
	id            string
	clientID      string
	subject       string
	authRequestID string
	audience      []string
	scopes        []string
	expires       time.Time
}

// storage implements op.Storage in memory. Every exported method is safe for
// concurrent use.
type storage struct {
	accessTokenTTL time.Duration
	key            signingKey
	log            *slog.Logger

	// immutable after construction
	clients     map[string]*opClient
	users       []User
	usersBySub  map[string]*User
	usersByName map[string]*User

	mu           sync.Mutex
	authRequests map[string]*authRequest
	codes        map[string]*codeGrant
	tokens       map[string]*accessToken
}

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

func newStorage(cfg storageConfig) *storage {
	s := &storage{
		accessTokenTTL: cfg.accessTokenTTL,
		key:            signingKey{id: cfg.keyID, key: cfg.signingKey},
		log:            cfg.log,
		clients:        make(map[string]*opClient, len(cfg.clients)),
		usersBySub:     make(map[string]*User, len(cfg.users)),
		usersByName:    make(map[string]*User, len(cfg.users)),
		authRequests:   make(map[string]*authRequest),
		codes:          make(map[string]*codeGrant),
		tokens:         make(map[string]*accessToken),
	}
	for _, c := range cfg.clients {
		c.RedirectURIs = slices.Clone(c.RedirectURIs)
		c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
		s.clients[c.ID] = &opClient{Client: c, idTokenTTL: cfg.idTokenTTL, loginURL: cfg.issuer + pathLogin}
	}
	s.users = make([]User, len(cfg.users))
	for i, u := range cfg.users {
		u.Groups = slices.Clone(u.Groups)
		if u.Groups == nil {
			u.Groups = []string{}
		}
		s.users[i] = u
	}
	for i := range s.users {
		s.usersBySub[s.users[i].Subject] = &s.users[i]
		s.usersByName[s.users[i].Username] = &s.users[i]
	}
	return s
}

func (s *storage) userList() []User {
	out := make([]User, len(s.users))
	for i, u := range s.users {
		u.Groups = slices.Clone(u.Groups)
		out[i] = u
	}
	return out
}

// pruneLocked drops expired state. s.mu must be held.
func (s *storage) pruneLocked(now time.Time) {
	for id, r := range s.authRequests {
		if now.Sub(r.created) > authRequestTTL {
			delete(s.authRequests, id)
		}
	}
	for code, g := range s.codes {
		if now.After(g.expires) {
			delete(s.codes, code)
		}
	}
	for id, t := range s.tokens {
		if now.After(t.expires) {
			delete(s.tokens, id)
		}
	}
}

// --- used by the login page ---

// authRequestSnapshot returns a copy of the pending auth request id.
func (s *storage) authRequestSnapshot(id string) (*authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.authRequests[id]
	if !ok || time.Since(r.created) > authRequestTTL {
		return nil, false
	}
	return r.clone(), true
}

var (
	errUnknownAuthRequest = errors.New("unknown or expired login request")
	errUnknownUser        = errors.New("unknown user")
	errAlreadyCompleted   = errors.New("this login request has already been completed")
)

// completeLogin marks the auth request as authenticated by the user with the
// given username.
func (s *storage) completeLogin(id, username string) (*authRequest, error) {
	user, ok := s.usersByName[username]
	if !ok {
		return nil, errUnknownUser
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.authRequests[id]
	if !ok || time.Since(r.created) > authRequestTTL {
		return nil, errUnknownAuthRequest
	}
	if r.code != "" {
		return nil, errAlreadyCompleted
	}
	r.subject = user.Subject
	r.done = true
	r.authTime = time.Now().UTC().Truncate(time.Second)
	return r.clone(), nil
}

// cancelLogin removes the auth request and returns it.
func (s *storage) cancelLogin(id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.authRequests[id]
	if !ok || time.Since(r.created) > authRequestTTL {
		return nil, errUnknownAuthRequest
	}
	if r.code != "" {
		return nil, errAlreadyCompleted
	}
	delete(s.authRequests, id)
	return r, nil
}

// --- op.AuthStorage ---

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		// There is no single sign-on session: every login shows the picker.
		return nil, oidc.ErrLoginRequired().WithDescription("devidp keeps no session; prompt=none cannot succeed")
	}
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
	}
	now := time.Now()
	r := &authRequest{
		id:           rand.Text(),
		created:      now,
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		scopes:       slices.Clone(req.Scopes),
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		codeChallenge: &oidc.CodeChallenge{
			Challenge: req.CodeChallenge,
			Method:    req.CodeChallengeMethod,
		},
		loginHint: req.LoginHint,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	s.authRequests[r.id] = r
	return r.clone(), nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	r, ok := s.authRequestSnapshot(id)
	if !ok {
		return nil, errUnknownAuthRequest
	}
	return r, nil
}

// AuthRequestByCode redeems an authorization code. A code can be redeemed
// once: the first lookup marks it redeemed whatever the outcome of the token
// request, and presenting it again revokes the access tokens issued for it
// (RFC 6749, section 4.1.2).
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.codes[code]
	if !ok {
		return nil, errors.New("unknown authorization code")
	}
	if time.Now().After(g.expires) {
		delete(s.codes, code)
		return nil, errors.New("authorization code expired")
	}
	if g.redeemed {
		revoked := 0
		for id, t := range s.tokens {
			if t.authRequestID == g.authRequestID {
				delete(s.tokens, id)
				revoked++
			}
		}
		s.log.Warn("devidp: authorization code reused; revoked the tokens issued for it", "revoked_tokens", revoked)
		return nil, errors.New("authorization code already used")
	}
	g.redeemed = true
	r, ok := s.authRequests[g.authRequestID]
	if !ok {
		return nil, errUnknownAuthRequest
	}
	return r.clone(), nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.authRequests[id]
	if !ok {
		return errUnknownAuthRequest
	}
	if !r.done {
		return errors.New("login request not completed")
	}
	if r.code != "" {
		return oidc.ErrInvalidRequest().WithDescription("an authorization code was already issued for this login request")
	}
	r.code = code
	s.codes[code] = &codeGrant{authRequestID: id, expires: now.Add(codeTTL)}
	return nil
}

// DeleteAuthRequest is called once tokens were issued for the request. The
// code's record stays (redeemed) until it expires so that reuse is detected.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	return nil
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	t := &accessToken{
		id:       rand.Text(),
		subject:  req.GetSubject(),
		audience: slices.Clone(req.GetAudience()),
		scopes:   slices.Clone(req.GetScopes()),
		expires:  time.Now().Add(s.accessTokenTTL),
	}
	switch r := req.(type) {
	case *authRequest:
		t.clientID = r.clientID
		t.authRequestID = r.id
	case interface{ GetClientID() string }:
		t.clientID = r.GetClientID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[t.id] = t
	return t.id, t.expires, nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("devidp does not issue refresh tokens")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// TerminateSession revokes the user's access tokens for the client; it is
// called by the end_session endpoint.
func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tokens {
		if t.subject == userID && t.clientID == clientID {
			delete(s.tokens, id)
		}
	}
	s.log.Info("devidp: session ended", "sub", userID, "client_id", clientID)
	return nil
}

func (s *storage) RevokeToken(_ context.Context, tokenIDOrToken, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenIDOrToken]
	if !ok {
		return nil // unknown tokens are treated as already revoked (RFC 7009)
	}
	if t.clientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	delete(s.tokens, tokenIDOrToken)
	return nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return &s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{&publicKey{id: s.key.id, key: &s.key.key.PublicKey}}, nil
}

// --- op.OPStorage ---

func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("unknown client %q", clientID)
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	c, ok := s.clients[clientID]
	if !ok {
		return errors.New("unknown client")
	}
	if c.Secret == "" {
		return errors.New("public client cannot authenticate with a secret")
	}
	if subtle.ConstantTimeCompare([]byte(c.Secret), []byte(clientSecret)) != 1 {
		return errors.New("invalid client secret")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated by the op library in favour of
// SetUserinfoFromRequest.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(info, req.GetSubject(), scopes)
}

// SetUserinfoFromToken fills the userinfo response for an access token.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.activeToken(tokenID)
	if err != nil {
		return err
	}
	if subject != "" && subject != t.subject {
		return errors.New("token subject mismatch")
	}
	return s.setUserinfo(info, t.subject, t.scopes)
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.activeToken(tokenID)
	if err != nil {
		return err
	}
	if subject != "" && subject != t.subject {
		return errors.New("token subject mismatch")
	}
	if !slices.Contains(t.audience, clientID) {
		return errors.New("token was not issued for this client")
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, t.subject, t.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	resp.Expiration = oidc.FromTime(t.expires)
	return nil
}

func (s *storage) activeToken(id string) (*accessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		return nil, errors.New("access token unknown or revoked")
	}
	if time.Now().After(t.expires) {
		delete(s.tokens, id)
		return nil, errors.New("access token expired")
	}
	c := *t
	return &c, nil
}

// setUserinfo sets the claims allowed by scopes. The groups claim is always
// set (an empty array for a user without groups).
func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	u, ok := s.usersBySub[subject]
	if !ok {
		return fmt.Errorf("unknown user %q", subject)
	}
	info.Subject = u.Subject
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeProfile:
			info.Name = u.Name
			info.PreferredUsername = u.Username
		case oidc.ScopeEmail:
			if u.Email != "" {
				info.Email = u.Email
				info.EmailVerified = true
			}
		}
	}
	info.AppendClaims(GroupsClaim, slices.Clone(u.Groups))
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil // access tokens are opaque
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("devidp does not support private_key_jwt or JWT profile grants")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("devidp does not support JWT profile grants")
}

func (s *storage) Health(context.Context) error { return nil }

// --- keys ---

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k *publicKey) ID() string                         { return k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.key }
