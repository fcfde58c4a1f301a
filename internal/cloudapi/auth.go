package cloudapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenProvider supplies the bearer token of each attempt.
type tokenProvider interface {
	// token returns the token to send.
	token(ctx context.Context) (string, error)
	// invalidate drops rejected, a token the API answered with 401, and
	// reports whether the next token call can give a different one.
	invalidate(rejected string) bool
}

// staticToken is a token obtained elsewhere (e.g. downloaded from the OAuth
// client's Tokens tab). It cannot be renewed.
type staticToken string

func (t staticToken) token(context.Context) (string, error) { return string(t), nil }
func (t staticToken) invalidate(string) bool                { return false }

// clientCredentials obtains tokens with the OAuth client-credentials grant
// (BEHAVIOUR.md §2: the grant and token URL are inferred).
//
// Every caller shares one cached token: oauth2.ReuseTokenSource holds a
// mutex across the fetch, so concurrent callers cause one token request and
// a token is renewed 10 s before it expires. A token the API rejects with
// 401 before its expiry (revoked, lifespan shortened) is dropped by
// replacing the cache, under mu, unless another caller already did.
type clientCredentials struct {
	newSource func() oauth2.TokenSource // a fresh, empty cache
	secret    string                    // redacted from errors

	mu  sync.Mutex
	src oauth2.TokenSource
}

// newClientCredentials returns a provider that fetches tokens from tokenURL
// through httpClient (whose Timeout bounds each fetch), telling observer of
// each fetch.
func newClientCredentials(tokenURL, clientID, clientSecret string, httpClient *http.Client, observer Observer) *clientCredentials {
	conf := &clientcredentials.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		TokenURL:     tokenURL,
		// Form parameters, as Imply's examples send them; this also spares
		// the extra request that auto-detection makes on a failure.
		AuthStyle: oauth2.AuthStyleInParams,
	}
	// The fetch outlives any one caller (others may be waiting on it), so
	// it runs on its own context; httpClient.Timeout bounds it.
	fetchCtx := context.WithValue(context.Background(), oauth2.HTTPClient, httpClient)
	c := &clientCredentials{
		newSource: func() oauth2.TokenSource {
			return oauth2.ReuseTokenSource(nil, observedFetch{conf: conf, ctx: fetchCtx, observer: observer})
		},
		secret: clientSecret,
	}
	c.src = c.newSource()
	return c
}

func (c *clientCredentials) token(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	tok, err := src.Token()
	if err != nil {
		return "", fmt.Errorf("cloudapi: fetch token: %w", redacted{err: err, secrets: []string{c.secret}})
	}
	return tok.AccessToken, nil
}

func (c *clientCredentials) invalidate(rejected string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	// If the cache already holds another token, someone renewed it since
	// the rejected request was sent; keep it. (If it has expired, Token
	// fetches the successor here, which is the next thing needed anyway.)
	if current, err := c.src.Token(); err == nil && current.AccessToken != rejected {
		return true
	}
	c.src = c.newSource()
	return true
}

// redacted hides secrets in the message of the error it wraps.
type redacted struct {
	err     error
	secrets []string
}

func (r redacted) Error() string {
	msg := r.err.Error()
	for _, s := range r.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

func (r redacted) Unwrap() error { return r.err }
