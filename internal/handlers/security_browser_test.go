package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestBrowserSignInWithCSPEnforced signs in through the devidp picker in
// headless Chromium, uses htmx on the page (a fragment swapped into #flash,
// a POST carrying the CSRF header from hx-headers), signs out with the
// header's form (whose redirect to the provider form-action must allow),
// and expects no CSP violation and no script error along the way.
func TestBrowserSignInWithCSPEnforced(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	ctx := browsertest.New(t)
	page := browsertest.Watch(t, ctx)
	do := func(steps ...chromedp.Action[chromedp.Void]) error {
		step, cancel := context.WithTimeout(ctx, 20*time.Second) // fail a stuck step quickly
		defer cancel()
		return chromedp.Do(step, steps...)
	}

	// Sign in as bob, starting from a page that needs it.
	require.NoError(t, do(
		chromedp.Navigate(env.url+"/?from=browser"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-bob"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="user-bob"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-user"]`)),
	))
	location, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, env.url+"/?from=browser", location)
	// Read in one evaluation: the start page's live parts may redraw
	// around the query ("No node with given id found" under load).
	who, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="current-user"]').innerText`))
	require.NoError(t, err)
	require.Contains(t, who, "Bob Brown")
	require.Contains(t, who, "approver")

	// htmx runs under the CSP, configured without eval or inline styles
	// (once the page's deferred scripts ran: a loaded box may show the page
	// before).
	require.NoError(t, do(chromedp.Poll[chromedp.Void](`document.readyState === "complete"`, chromedp.WithPollingTimeout(10*time.Second))))
	configured, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`typeof htmx === "object" && htmx.config.allowEval === false && htmx.config.includeIndicatorStyles === false && htmx.config.historyCacheSize === 0`))
	require.NoError(t, err)
	require.True(t, configured, "htmx must be loaded (nonce) and configured by the layout's meta tag")

	// An htmx request whose answer is an error lands in #flash.
	require.NoError(t, do(
		chromedp.Evaluate[chromedp.Void](`htmx.ajax("GET", "/no/such/fragment", {target: "#main"}); undefined`),
		chromedp.WaitVisible(chromedp.CSS(`#flash .flash[role="alert"]`)),
	))

	// An htmx POST carries the session's CSRF token from <body hx-headers>:
	// signing out this way succeeds and follows HX-Redirect to the provider
	// and back to the signed-out page.
	require.NoError(t, do(
		chromedp.Evaluate[chromedp.Void](`htmx.ajax("POST", "/auth/logout", {source: document.body}); undefined`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signed-out"]`)),
	))
	require.Zero(t, env.countRows("sessions"))

	// Sign in again and sign out with the header's button: a form POST whose
	// redirect goes to the provider's end_session endpoint.
	require.NoError(t, do(
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-again"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-bob"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="user-bob"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signed-out"]`)),
	))
	location, err = chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, env.url+auth.SignedOutPath, location)
	require.Zero(t, env.countRows("sessions"))

	browsertest.Settle()
	require.Empty(t, page.CSPViolations(), "all messages: %q", page.Messages())
	require.Empty(t, page.Exceptions())
	for _, m := range page.Messages() {
		t.Log("browser:", m)
	}
}
