package devidp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// NewTestServer starts a Provider on a local httptest server whose URL is
// the issuer (cfg.Issuer is overwritten) and closes it when the test ends.
func NewTestServer(tb testing.TB, cfg Config) (*Provider, *httptest.Server) {
	tb.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cfg.Issuer = "http://" + srv.Listener.Addr().String()
	p, err := New(cfg)
	if err != nil {
		srv.Listener.Close()
		tb.Fatalf("devidp.New: %v", err)
	}
	srv.Config.Handler = p
	srv.Start()
	tb.Cleanup(srv.Close)
	return p, srv
}

// maxRedirects bounds the redirects Login follows itself.
const maxRedirects = 10

// Login signs in as username without a browser. It GETs startURL with hc —
// the relying party's own login URL (so its state cookies land in hc's jar)
// or an authorization endpoint URL — and follows redirects until it reaches
// the devidp login page. Then it submits the user picker (POST /login/select
// with fields id and username) and returns the response to that POST, as
// produced by hc: a client that follows redirects ends on whatever the
// relying party's redirect_uri answers; a client whose CheckRedirect returns
// http.ErrUseLastResponse gets the 303 to the authorization callback.
//
// The caller must close the returned response's body.
func Login(ctx context.Context, hc *http.Client, startURL, username string) (*http.Response, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	loginURL, err := findLoginPage(ctx, hc, startURL)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"id":       {loginURL.Query().Get("authRequestID")},
		"username": {username},
	}
	selectURL := loginURL.ResolveReference(&url.URL{Path: pathLoginSelect})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, selectURL.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return hc.Do(req)
}

// findLoginPage follows redirects from start (whether or not hc follows
// them itself) and returns the URL of the devidp login page.
func findLoginPage(ctx context.Context, hc *http.Client, start string) (*url.URL, error) {
	next := start
	for range maxRedirects {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		final := resp.Request.URL
		switch {
		case resp.StatusCode == http.StatusOK && final.Path == pathLogin && final.Query().Get("authRequestID") != "":
			return final, nil
		case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "":
			loc, err := final.Parse(resp.Header.Get("Location"))
			if err != nil {
				return nil, fmt.Errorf("devidp.Login: bad redirect from %s: %w", final, err)
			}
			next = loc.String()
		default:
			return nil, fmt.Errorf("devidp.Login: expected the devidp login page, got %s from %s", resp.Status, final)
		}
	}
	return nil, errors.New("devidp.Login: too many redirects before the login page")
}
