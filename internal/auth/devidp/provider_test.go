package devidp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
)

const (
	rpClientID     = "portal"
	rpClientSecret = "portal-secret"
	rpRedirect     = "http://rp.test/auth/callback"
	rpLoggedOut    = "http://rp.test/signed-out"
	spaClientID    = "spa"
	spaRedirect    = "http://spa.test/callback"
)

// env is a provider on an httptest server plus a go-oidc relying party.
type env struct {
	t        *testing.T
	idp      *devidp.Provider
	srv      *httptest.Server
	ctx      context.Context
	rp       *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	// hc follows redirects only within the provider, so a flow stops at the
	// relying party's redirect_uri.
	hc *http.Client
}

func newEnv(t *testing.T, mutate func(*devidp.Config)) *env {
	t.Helper()
	cfg := devidp.Config{
		Clients: []devidp.Client{
			{ID: rpClientID, Secret: rpClientSecret, RedirectURIs: []string{rpRedirect}, PostLogoutRedirectURIs: []string{rpLoggedOut}},
			{ID: spaClientID, RedirectURIs: []string{spaRedirect}},
		},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	idp, srv := devidp.NewTestServer(t, cfg)
	ctx := oidc.ClientContext(t.Context(), srv.Client())
	rp, err := oidc.NewProvider(ctx, srv.URL)
	require.NoError(t, err)
	endpoint := rp.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	idpHost := srv.Listener.Addr().String()
	return &env{
		t:   t,
		idp: idp,
		srv: srv,
		ctx: ctx,
		rp:  rp,
		oauth: oauth2.Config{
			ClientID:     rpClientID,
			ClientSecret: rpClientSecret,
			Endpoint:     endpoint,
			RedirectURL:  rpRedirect,
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
		},
		verifier: rp.Verifier(&oidc.Config{ClientID: rpClientID}),
		hc: &http.Client{
			CheckRedirect: func(req *http.Request, _ []*http.Request) error {
				if req.URL.Host != idpHost {
					return http.ErrUseLastResponse
				}
				return nil
			},
		},
	}
}

// flow is one authorization request's client-side secrets.
type flow struct {
	state, nonce, verifier string
}

func newFlow() flow {
	return flow{state: oauth2.GenerateVerifier(), nonce: oauth2.GenerateVerifier(), verifier: oauth2.GenerateVerifier()}
}

func (e *env) authURL(f flow) string {
	return e.oauth.AuthCodeURL(f.state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier))
}

// redirectTo returns the Location of resp, which must redirect to prefix.
func redirectTo(t *testing.T, resp *http.Response, prefix string) url.Values {
	t.Helper()
	defer resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, "expected a redirect to %s", prefix)
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, prefix+"?"), "Location %q does not start with %s", loc, prefix)
	u, err := url.Parse(loc)
	require.NoError(t, err)
	return u.Query()
}

// login signs in as username and returns the authorization code.
func (e *env) login(f flow, username string) string {
	e.t.Helper()
	resp, err := devidp.Login(e.ctx, e.hc, e.authURL(f), username)
	require.NoError(e.t, err)
	q := redirectTo(e.t, resp, rpRedirect)
	require.Equal(e.t, f.state, q.Get("state"))
	require.NotEmpty(e.t, q.Get("code"), "callback query: %v", q)
	return q.Get("code")
}

func (e *env) exchange(code string, f flow) (*oauth2.Token, error) {
	return e.oauth.Exchange(e.ctx, code, oauth2.VerifierOption(f.verifier))
}

// signIn runs the whole flow and returns the token response and raw ID token.
func (e *env) signIn(username string) (flow, *oauth2.Token, string) {
	e.t.Helper()
	f := newFlow()
	tok, err := e.exchange(e.login(f, username), f)
	require.NoError(e.t, err)
	raw, ok := tok.Extra("id_token").(string)
	require.True(e.t, ok, "token response has no id_token")
	return f, tok, raw
}

type userClaims struct {
	Name              string   `json:"name"`
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
}

func requireOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, code, re.ErrorCode, "error: %v", err)
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := e.srv.Client().Get(e.srv.URL + "/.well-known/openid-configuration")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc struct {
		Issuer                 string   `json:"issuer"`
		AuthorizationEndpoint  string   `json:"authorization_endpoint"`
		TokenEndpoint          string   `json:"token_endpoint"`
		UserinfoEndpoint       string   `json:"userinfo_endpoint"`
		JWKSURI                string   `json:"jwks_uri"`
		EndSessionEndpoint     string   `json:"end_session_endpoint"`
		ResponseTypes          []string `json:"response_types_supported"`
		CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
		IDTokenSigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
		TokenEndpointAuthMeths []string `json:"token_endpoint_auth_methods_supported"`
		ScopesSupported        []string `json:"scopes_supported"`
		ClaimsSupported        []string `json:"claims_supported"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	assert.Equal(t, e.srv.URL, doc.Issuer)
	assert.Equal(t, e.srv.URL, e.idp.Issuer())
	assert.Equal(t, e.srv.URL+"/authorize", doc.AuthorizationEndpoint)
	assert.Equal(t, e.srv.URL+"/oauth/token", doc.TokenEndpoint)
	assert.Equal(t, e.srv.URL+"/userinfo", doc.UserinfoEndpoint)
	assert.Equal(t, e.srv.URL+"/keys", doc.JWKSURI)
	assert.Equal(t, e.srv.URL+"/end_session", doc.EndSessionEndpoint)
	assert.Contains(t, doc.ResponseTypes, "code")
	assert.Equal(t, []string{"S256"}, doc.CodeChallengeMethods)
	assert.Contains(t, doc.IDTokenSigningAlgs, "RS256")
	assert.Subset(t, doc.TokenEndpointAuthMeths, []string{"client_secret_basic", "client_secret_post", "none"})
	assert.Subset(t, doc.ScopesSupported, []string{"openid", "profile", "email", "groups"})
	assert.Subset(t, doc.ClaimsSupported, []string{"sub", "nonce", "groups", "email", "preferred_username"})

	keys, err := e.srv.Client().Get(doc.JWKSURI)
	require.NoError(t, err)
	defer keys.Body.Close()
	var jwks struct {
		Keys []struct{ Kty, Alg, Use, Kid string } `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(keys.Body).Decode(&jwks))
	require.Len(t, jwks.Keys, 1)
	assert.Equal(t, "RSA", jwks.Keys[0].Kty)
	assert.Equal(t, "RS256", jwks.Keys[0].Alg)
	assert.Equal(t, "sig", jwks.Keys[0].Use)
	assert.NotEmpty(t, jwks.Keys[0].Kid)
}

func TestAuthorizationCodeFlowWithPKCE(t *testing.T) {
	e := newEnv(t, nil)
	for _, u := range devidp.DefaultUsers() {
		t.Run(u.Username, func(t *testing.T) {
			e.t = t
			f, tok, raw := e.signIn(u.Username)
			idt, err := e.verifier.Verify(e.ctx, raw)
			require.NoError(t, err)
			assert.Equal(t, f.nonce, idt.Nonce)
			assert.Equal(t, u.Subject, idt.Subject)
			assert.Equal(t, []string{rpClientID}, idt.Audience)
			require.NoError(t, idt.VerifyAccessToken(tok.AccessToken))

			var c userClaims
			require.NoError(t, idt.Claims(&c))
			assert.Equal(t, u.Groups, c.Groups, "groups claim in the ID token")
			assert.NotNil(t, c.Groups, "groups must be present, [] when empty")
			assert.Equal(t, u.Name, c.Name)
			assert.Equal(t, u.Email, c.Email)
			assert.True(t, c.EmailVerified)
			assert.Equal(t, u.Username, c.PreferredUsername)

			ui, err := e.rp.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
			require.NoError(t, err)
			assert.Equal(t, u.Subject, ui.Subject)
			var uc userClaims
			require.NoError(t, ui.Claims(&uc))
			assert.Equal(t, u.Groups, uc.Groups, "groups claim in userinfo")
			assert.Equal(t, u.Username, uc.PreferredUsername)
			assert.Equal(t, u.Email, uc.Email)
		})
	}
}

func TestPublicClientWithPKCE(t *testing.T) {
	e := newEnv(t, nil)
	e.oauth.ClientID, e.oauth.ClientSecret, e.oauth.RedirectURL = spaClientID, "", spaRedirect
	e.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	e.oauth.Scopes = []string{oidc.ScopeOpenID}
	f := newFlow()
	resp, err := devidp.Login(e.ctx, e.hc, e.authURL(f), "carol")
	require.NoError(t, err)
	code := redirectTo(t, resp, spaRedirect).Get("code")
	tok, err := e.exchange(code, f)
	require.NoError(t, err)
	idt, err := e.rp.Verifier(&oidc.Config{ClientID: spaClientID}).Verify(e.ctx, tok.Extra("id_token").(string))
	require.NoError(t, err)
	assert.Equal(t, "devidp-carol", idt.Subject)
	assert.Equal(t, f.nonce, idt.Nonce)
	var c userClaims
	require.NoError(t, idt.Claims(&c))
	assert.Equal(t, []string{"approvers"}, c.Groups, "groups without any extra scope")
	assert.Empty(t, c.Email, "no email claim without the email scope")
	assert.Empty(t, c.Name, "no profile claims without the profile scope")
}

// TestLoginWithCookieJar drives a relying party that keeps its state in a
// cookie with an ordinary redirect-following http.Client, as portal tests do.
func TestLoginWithCookieJar(t *testing.T) {
	rpSrv := httptest.NewUnstartedServer(nil)
	rpURL := "http://" + rpSrv.Listener.Addr().String()
	idp, _ := devidp.NewTestServer(t, devidp.Config{Clients: []devidp.Client{
		{ID: "rp", Secret: "rp-secret", RedirectURIs: []string{rpURL + "/callback"}},
	}})
	ctx := t.Context()
	rp, err := oidc.NewProvider(ctx, idp.Issuer())
	require.NoError(t, err)
	conf := oauth2.Config{ClientID: "rp", ClientSecret: "rp-secret", Endpoint: rp.Endpoint(), RedirectURL: rpURL + "/callback", Scopes: []string{"openid", "profile"}}
	verifier := rp.Verifier(&oidc.Config{ClientID: "rp"})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		f := newFlow()
		http.SetCookie(w, &http.Cookie{Name: "flow", Value: f.state + "." + f.nonce + "." + f.verifier, Path: "/", HttpOnly: true})
		http.Redirect(w, r, conf.AuthCodeURL(f.state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("flow")
		if err != nil {
			http.Error(w, "no flow cookie", http.StatusBadRequest)
			return
		}
		parts := strings.Split(c.Value, ".")
		if len(parts) != 3 || r.URL.Query().Get("state") != parts[0] {
			http.Error(w, "bad state", http.StatusBadRequest)
			return
		}
		tok, err := conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(parts[2]))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		idt, err := verifier.Verify(r.Context(), tok.Extra("id_token").(string))
		if err != nil || idt.Nonce != parts[1] {
			http.Error(w, "bad id token", http.StatusUnauthorized)
			return
		}
		var uc userClaims
		_ = idt.Claims(&uc)
		_, _ = io.WriteString(w, uc.PreferredUsername+":"+strings.Join(uc.Groups, ","))
	})
	rpSrv.Config.Handler = mux
	rpSrv.Start()
	t.Cleanup(rpSrv.Close)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Jar: jar}
	resp, err := devidp.Login(ctx, hc, rpURL+"/login", "bob")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "bob:developers,approvers", string(body))
}

func TestWrongClientSecretRejected(t *testing.T) {
	e := newEnv(t, nil)
	f := newFlow()
	code := e.login(f, "alice")
	e.oauth.ClientSecret = "wrong"
	_, err := e.exchange(code, f)
	requireOAuthError(t, err, "invalid_client")

	// client_secret_post is checked as well
	f = newFlow()
	code = e.login(f, "alice")
	e.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	_, err = e.exchange(code, f)
	requireOAuthError(t, err, "invalid_client")

	// and the right secret in the body works
	f = newFlow()
	code = e.login(f, "alice")
	e.oauth.ClientSecret = rpClientSecret
	_, err = e.exchange(code, f)
	require.NoError(t, err)
}

func TestWrongCodeVerifierRejected(t *testing.T) {
	e := newEnv(t, nil)
	f := newFlow()
	code := e.login(f, "alice")
	_, err := e.oauth.Exchange(e.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	requireOAuthError(t, err, "invalid_grant")

	f = newFlow()
	code = e.login(f, "alice")
	_, err = e.oauth.Exchange(e.ctx, code) // no code_verifier at all
	requireOAuthError(t, err, "invalid_request")
}

func TestPKCERequired(t *testing.T) {
	e := newEnv(t, nil)
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"none":  nil,
		"plain": {oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := e.hc.Get(e.oauth.AuthCodeURL("st", opts...))
			require.NoError(t, err)
			q := redirectTo(t, resp, rpRedirect)
			assert.Equal(t, "invalid_request", q.Get("error"))
			assert.Equal(t, "st", q.Get("state"))
			assert.Empty(t, q.Get("code"))
		})
	}
}

func TestCodeReuseRejected(t *testing.T) {
	e := newEnv(t, nil)
	f := newFlow()
	code := e.login(f, "dave")
	tok, err := e.exchange(code, f)
	require.NoError(t, err)
	_, err = e.rp.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
	require.NoError(t, err)

	_, err = e.exchange(code, f)
	requireOAuthError(t, err, "invalid_grant")

	// The replay revoked the access token issued for the code.
	_, err = e.rp.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
	require.Error(t, err)
}

func TestCallbackIssuesOneCode(t *testing.T) {
	e := newEnv(t, nil)
	f := newFlow()
	resp, err := devidp.Login(e.ctx, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, e.authURL(f), "erin")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	callback := resp.Header.Get("Location")
	require.Contains(t, callback, "/authorize/callback?id=")

	resp, err = e.hc.Get(callback)
	require.NoError(t, err)
	first := redirectTo(t, resp, rpRedirect)
	require.NotEmpty(t, first.Get("code"))

	resp, err = e.hc.Get(callback)
	require.NoError(t, err)
	second := redirectTo(t, resp, rpRedirect)
	assert.Empty(t, second.Get("code"))
	assert.Equal(t, "invalid_request", second.Get("error"))
}

func TestUserinfoRejectsBadToken(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.rp.UserInfo(e.ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "bogus", TokenType: "Bearer"}))
	require.Error(t, err)
}

func TestEndSession(t *testing.T) {
	e := newEnv(t, nil)
	_, tok, raw := e.signIn("bob")

	q := url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {rpLoggedOut}, "state": {"bye"}}
	resp, err := e.hc.Get(e.srv.URL + "/end_session?" + q.Encode())
	require.NoError(t, err)
	got := redirectTo(t, resp, rpLoggedOut)
	assert.Equal(t, "bye", got.Get("state"))

	// The session's access token no longer works.
	_, err = e.rp.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
	require.Error(t, err)

	t.Run("unregistered post_logout_redirect_uri", func(t *testing.T) {
		_, _, raw := e.signIn("bob")
		q := url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {"http://evil.test/"}}
		resp, err := e.hc.Get(e.srv.URL + "/end_session?" + q.Encode())
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("without redirect", func(t *testing.T) {
		resp, err := e.srv.Client().Get(e.srv.URL + "/end_session")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, string(body), `data-testid="logged-out"`)
	})
}

func TestLoginPage(t *testing.T) {
	e := newEnv(t, nil)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(e.authURL(newFlow()) + "&login_hint=erin")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loginURL := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loginURL, e.srv.URL+"/login?authRequestID="), loginURL)
	id := strings.TrimPrefix(loginURL, e.srv.URL+"/login?authRequestID=")

	resp, err = noFollow.Get(loginURL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.NotContains(t, page, "<script")
	assert.Contains(t, page, `<html lang="en">`)
	assert.Contains(t, page, `action="`+e.srv.URL+`/login/select"`)
	assert.Contains(t, page, `name="id" value="`+id+`"`)
	for _, u := range devidp.DefaultUsers() {
		assert.Contains(t, page, `data-testid="user-`+u.Username+`"`)
		assert.Contains(t, page, `value="`+u.Username+`"`)
		assert.Contains(t, page, "Sign in as "+u.Name)
	}
	assert.Contains(t, page, "Groups: developers, approvers")
	assert.Contains(t, page, "Groups: none") // mallory
	assert.Less(t, strings.Index(page, `user-erin`), strings.Index(page, `user-alice`), "login_hint user first")

	post := func(path string, form url.Values) *http.Response {
		resp, err := noFollow.PostForm(e.srv.URL+path, form)
		require.NoError(t, err)
		return resp
	}
	t.Run("unknown user", func(t *testing.T) {
		resp := post("/login/select", url.Values{"id": {id}, "username": {"zed"}})
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, string(body), `data-testid="login-error"`)
		assert.Contains(t, string(body), `data-testid="user-alice"`, "the picker is shown again")
	})
	t.Run("unknown request", func(t *testing.T) {
		resp := post("/login/select", url.Values{"id": {"nope"}, "username": {"alice"}})
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		resp, err := noFollow.Get(e.srv.URL + "/login?authRequestID=nope")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("cancel", func(t *testing.T) {
		f := newFlow()
		resp, err := noFollow.Get(e.authURL(f))
		require.NoError(t, err)
		resp.Body.Close()
		u, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		q := redirectTo(t, post("/login/cancel", url.Values{"id": {u.Query().Get("authRequestID")}}), rpRedirect)
		assert.Equal(t, "access_denied", q.Get("error"))
		assert.Equal(t, f.state, q.Get("state"))
	})
	t.Run("index", func(t *testing.T) {
		resp, err := noFollow.Get(e.srv.URL + "/")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, string(body), `data-testid="index-user-mallory"`)
	})
}

func TestTweaks(t *testing.T) {
	e := newEnv(t, nil)
	verify := func(t *testing.T, tweak devidp.IDTokenTweak) (flow, *oidc.IDToken, error) {
		t.Helper()
		e.t = t
		e.idp.SetIDTokenTweak(tweak)
		t.Cleanup(func() { e.idp.SetIDTokenTweak(nil) })
		f, _, raw := e.signIn("alice")
		idt, err := e.verifier.Verify(e.ctx, raw)
		return f, idt, err
	}

	t.Run("wrong nonce", func(t *testing.T) {
		f, idt, err := verify(t, devidp.WrongNonce())
		require.NoError(t, err, "signature and standard claims stay valid")
		assert.NotEqual(t, f.nonce, idt.Nonce)
		assert.NotEmpty(t, idt.Nonce)
	})
	t.Run("missing nonce", func(t *testing.T) {
		_, idt, err := verify(t, devidp.DeleteClaim("nonce"))
		require.NoError(t, err)
		assert.Empty(t, idt.Nonce)
	})
	t.Run("wrong audience", func(t *testing.T) {
		_, _, err := verify(t, devidp.WrongAudience())
		require.ErrorContains(t, err, "audience")
	})
	t.Run("wrong issuer", func(t *testing.T) {
		_, _, err := verify(t, devidp.WrongIssuer())
		require.ErrorContains(t, err, "issuer")
	})
	t.Run("expired", func(t *testing.T) {
		_, _, err := verify(t, devidp.Expired())
		var expired *oidc.TokenExpiredError
		require.ErrorAs(t, err, &expired)
		assert.True(t, expired.Expiry.Before(time.Now().Add(-50*time.Minute)))
	})
	t.Run("unknown signing key", func(t *testing.T) {
		_, _, err := verify(t, devidp.UnknownSigningKey())
		require.ErrorContains(t, err, "signature")
	})
	t.Run("custom claims", func(t *testing.T) {
		_, idt, err := verify(t, devidp.Tweaks(
			devidp.SetClaim(devidp.GroupsClaim, []string{"admins"}),
			func(tok *devidp.IDToken) { tok.Claims["extra"] = "x" },
		))
		require.NoError(t, err)
		var c struct {
			Groups []string `json:"groups"`
			Extra  string   `json:"extra"`
		}
		require.NoError(t, idt.Claims(&c))
		assert.Equal(t, []string{"admins"}, c.Groups)
		assert.Equal(t, "x", c.Extra)
	})
	t.Run("off again", func(t *testing.T) {
		f, idt, err := verify(t, nil)
		require.NoError(t, err)
		assert.Equal(t, f.nonce, idt.Nonce)
	})

	t.Run("from config", func(t *testing.T) {
		e := newEnv(t, func(c *devidp.Config) { c.TweakIDToken = devidp.DeleteClaim(devidp.GroupsClaim) })
		_, tok, raw := e.signIn("bob")
		idt, err := e.verifier.Verify(e.ctx, raw)
		require.NoError(t, err)
		var c map[string]any
		require.NoError(t, idt.Claims(&c))
		assert.NotContains(t, c, "groups")
		// userinfo is not tweaked
		ui, err := e.rp.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
		require.NoError(t, err)
		var uc userClaims
		require.NoError(t, ui.Claims(&uc))
		assert.Equal(t, []string{"developers", "approvers"}, uc.Groups)
	})
}

func TestTokenLifetimes(t *testing.T) {
	e := newEnv(t, func(c *devidp.Config) { c.IDTokenTTL = 2 * time.Minute; c.AccessTokenTTL = 3 * time.Minute })
	_, tok, raw := e.signIn("alice")
	idt, err := e.verifier.Verify(e.ctx, raw)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(2*time.Minute), idt.Expiry, 10*time.Second)
	assert.WithinDuration(t, time.Now().Add(3*time.Minute), tok.Expiry, 10*time.Second)
}

func TestNewValidatesConfig(t *testing.T) {
	client := devidp.Client{ID: "c", RedirectURIs: []string{"http://localhost/cb"}}
	for name, cfg := range map[string]devidp.Config{
		"no issuer":         {Clients: []devidp.Client{client}},
		"issuer path":       {Issuer: "http://localhost:8082/idp", Clients: []devidp.Client{client}},
		"trailing slash":    {Issuer: "http://localhost:8082/", Clients: []devidp.Client{client}},
		"relative issuer":   {Issuer: "localhost:8082", Clients: []devidp.Client{client}},
		"no clients":        {Issuer: "http://localhost:8082"},
		"duplicate client":  {Issuer: "http://localhost:8082", Clients: []devidp.Client{client, client}},
		"no redirect":       {Issuer: "http://localhost:8082", Clients: []devidp.Client{{ID: "c"}}},
		"relative redirect": {Issuer: "http://localhost:8082", Clients: []devidp.Client{{ID: "c", RedirectURIs: []string{"/cb"}}}},
		"duplicate user": {Issuer: "http://localhost:8082", Clients: []devidp.Client{client},
			Users: []devidp.User{{Subject: "a", Username: "a"}, {Subject: "b", Username: "a"}}},
		"empty users":  {Issuer: "http://localhost:8082", Clients: []devidp.Client{client}, Users: []devidp.User{}},
		"negative ttl": {Issuer: "http://localhost:8082", Clients: []devidp.Client{client}, IDTokenTTL: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := devidp.New(cfg)
			require.Error(t, err)
		})
	}
}

func TestDefaultUsers(t *testing.T) {
	users := devidp.DefaultUsers()
	groups := map[string][]string{}
	for _, u := range users {
		assert.NotEmpty(t, u.Subject)
		assert.NotEmpty(t, u.Name)
		assert.NotEmpty(t, u.Email)
		groups[u.Username] = u.Groups
	}
	assert.Equal(t, map[string][]string{
		"alice":   {"developers"},
		"bob":     {"developers", "approvers"},
		"carol":   {"approvers"},
		"dave":    {"admins"},
		"erin":    {"auditors"},
		"mallory": {},
	}, groups)
	users[0].Groups[0] = "changed"
	assert.Equal(t, "developers", devidp.DefaultUsers()[0].Groups[0], "DefaultUsers returns a fresh copy")
}
