package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// maxClockSkew is the leeway for an ID token issued (iat) or valid from (nbf)
// "in the future" by a provider whose clock runs ahead. Expiry itself has no
// leeway (go-oidc).
const maxClockSkew = time.Minute

// relyingParty is the portal as an OpenID Connect client of one provider.
type relyingParty struct {
	cfg              Config
	provider         *oidc.Provider
	verifier         *oidc.IDTokenVerifier
	oauth            oauth2.Config
	endSession       string // end_session_endpoint, "" when the provider has none
	endSessionOrigin string
}

// discover reads the provider's discovery document. A provider that answers
// with something the portal refuses (another issuer, no PKCE S256, a bad
// end-session endpoint) gives a *providerRefusal: asking again will not help
// until someone fixes the configuration. Any other error (unreachable, not
// answering, a broken document) may pass.
func discover(ctx context.Context, cfg Config) (*relyingParty, error) {
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, cfg.HTTPClient), 30*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, refused("auth: the provider at %s announces the issuer %q; the configured issuer must match it exactly", cfg.Issuer, mismatch.Discovered)
		}
		return nil, fmt.Errorf("auth: discover the OpenID provider at %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		EndSession  string   `json:"end_session_endpoint"`
		PKCEMethods []string `json:"code_challenge_methods_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("auth: read the provider's metadata: %w", err)
	}
	if len(meta.PKCEMethods) > 0 && !slices.Contains(meta.PKCEMethods, "S256") {
		return nil, refused("auth: the provider at %s does not support PKCE with S256", cfg.Issuer)
	}
	endpoint := provider.Endpoint()
	if cfg.ClientSecret != "" {
		endpoint.AuthStyle = oauth2.AuthStyleInHeader
	} else {
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	rp := &relyingParty{
		cfg:      cfg,
		provider: provider,
		// The verifier checks signature (with the provider's advertised
		// algorithms, never "none"), issuer, audience and expiry. Nonce and
		// azp are checked in verify.
		verifier: provider.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now}),
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     endpoint,
			RedirectURL:  cfg.BaseURL + CallbackPath,
			Scopes:       cfg.Scopes,
		},
	}
	if meta.EndSession != "" {
		u, err := url.Parse(meta.EndSession)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, refused("auth: the provider's end_session_endpoint %q is not an http(s) URL", meta.EndSession)
		}
		rp.endSession = meta.EndSession
		rp.endSessionOrigin = u.Scheme + "://" + u.Host
	}
	return rp, nil
}

// authCodeURL is where the browser goes to sign in: response_type=code with
// state, nonce and a PKCE S256 challenge.
func (rp *relyingParty) authCodeURL(state, nonce, verifier string) string {
	return rp.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
}

// identity is what a verified sign-in tells about the person.
type identity struct {
	Issuer, Subject       string
	Username, Name, Email string
	Groups                []string
	RawIDToken            string
}

// exchange redeems the code with the PKCE verifier, verifies the ID token
// (signature, issuer, audience, expiry, issued-at, azp and nonce) and
// collects the person's claims, with groups from userinfo when the ID token
// has none.
func (rp *relyingParty) exchange(ctx context.Context, code, verifier, nonce string) (identity, error) {
	ctx = oidc.ClientContext(ctx, rp.cfg.HTTPClient)
	tok, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return identity{}, fmt.Errorf("token request refused: %s %s", re.ErrorCode, re.ErrorDescription)
		}
		return identity{}, fmt.Errorf("token request: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return identity{}, errors.New("the token response has no ID token")
	}
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		return identity{}, fmt.Errorf("ID token rejected: %w", err)
	}
	var claims map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return identity{}, fmt.Errorf("ID token claims: %w", err)
	}
	if err := rp.checkClaims(idt, claims, nonce); err != nil {
		return identity{}, fmt.Errorf("ID token rejected: %w", err)
	}
	id := identity{Issuer: idt.Issuer, Subject: idt.Subject, RawIDToken: raw}
	id.fill(claims, rp.cfg.GroupsClaim)
	if _, ok := claims[rp.cfg.GroupsClaim]; !ok && rp.provider.UserInfoEndpoint() != "" {
		if err := rp.fillFromUserinfo(ctx, tok, &id); err != nil {
			return identity{}, err
		}
	}
	if id.Subject == "" {
		return identity{}, errors.New("ID token rejected: no subject")
	}
	id.complete()
	return id, nil
}

// checkClaims does what go-oidc leaves to its caller: the nonce, the
// authorized party and an issued-at in the future.
func (rp *relyingParty) checkClaims(idt *oidc.IDToken, claims map[string]json.RawMessage, nonce string) error {
	if !equalTokens(idt.Nonce, nonce) {
		return errors.New("nonce does not match the sign-in")
	}
	var azp string
	if raw, ok := claims["azp"]; ok {
		if err := json.Unmarshal(raw, &azp); err != nil {
			return errors.New("azp is not a string")
		}
	}
	if azp != "" && azp != rp.cfg.ClientID {
		return fmt.Errorf("issued to another client (azp %q)", azp)
	}
	if len(idt.Audience) > 1 && azp == "" {
		return errors.New("several audiences and no azp")
	}
	latest := rp.cfg.Now().Add(maxClockSkew)
	if idt.IssuedAt.After(latest) {
		return fmt.Errorf("issued in the future (iat %s)", idt.IssuedAt.UTC().Format(time.RFC3339))
	}
	// go-oidc allows five minutes on nbf; keep to the same minute as iat.
	if raw, ok := claims["nbf"]; ok {
		var nbf json.Number
		if err := json.Unmarshal(raw, &nbf); err != nil {
			return errors.New("nbf is not a number")
		}
		if secs, err := nbf.Float64(); err != nil || time.Unix(int64(secs), 0).After(latest) {
			return fmt.Errorf("not valid yet (nbf %s)", nbf)
		}
	}
	return nil
}

func (rp *relyingParty) fillFromUserinfo(ctx context.Context, tok *oauth2.Token, id *identity) error {
	ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if ui.Subject != id.Subject {
		return errors.New("userinfo is about another subject")
	}
	var claims map[string]json.RawMessage
	if err := ui.Claims(&claims); err != nil {
		return fmt.Errorf("userinfo claims: %w", err)
	}
	id.fill(claims, rp.cfg.GroupsClaim)
	return nil
}

// fill sets the fields that are still empty from claims.
func (id *identity) fill(claims map[string]json.RawMessage, groupsClaim string) {
	str := func(name string) string {
		var s string
		_ = json.Unmarshal(claims[name], &s)
		return s
	}
	if id.Username == "" {
		id.Username = str("preferred_username")
	}
	if id.Email == "" {
		id.Email = str("email")
	}
	if id.Name == "" {
		id.Name = str("name")
	}
	if id.Groups == nil {
		id.Groups = groupsFrom(claims[groupsClaim])
	}
}

// complete fills what the provider did not say with what it did.
func (id *identity) complete() {
	if id.Username == "" {
		id.Username = id.Email
	}
	if id.Username == "" {
		id.Username = id.Subject
	}
	if id.Name == "" {
		id.Name = id.Username
	}
	if id.Groups == nil {
		id.Groups = []string{}
	}
}

// groupsFrom reads a groups claim: a list of strings, or one string. Nil
// when the claim is absent or of another shape.
func groupsFrom(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		if list == nil {
			list = []string{}
		}
		return list
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil && one != "" {
		return []string{one}
	}
	return nil
}

// endSessionURL is where sign-out continues at the provider, or "" when it
// has no end_session_endpoint.
func (rp *relyingParty) endSessionURL(idToken string) string {
	if rp.endSession == "" {
		return ""
	}
	u, _ := url.Parse(rp.endSession) // checked in discover
	q := u.Query()
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	q.Set("client_id", rp.cfg.ClientID)
	q.Set("post_logout_redirect_uri", rp.cfg.BaseURL+SignedOutPath)
	u.RawQuery = q.Encode()
	return u.String()
}
