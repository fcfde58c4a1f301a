package main

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestTokensPageJourney: in a browser at both sizes, alice opens Tokens
// from the menu, makes a token and sees it once, listed with its scopes;
// the page (and the menu that gained the link) pass axe and fit the
// viewport.
func TestTokensPageJourney(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	base, _ := start(t, []string{"serve"}, vars)
	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		tour := &pageTour{t: t, base: base, tab: browsertest.New(t)}
		report := browsertest.Watch(t, tour.tab)
		require.NoError(t, browsertest.Resize(tour.tab, size))
		tour.signIn("alice")
		checkPage(t, tour.tab, size, "the start page with the Tokens link")
		tour.do(
			chromedp.Click(chromedp.CSS(`[data-testid="nav-tokens"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="token-form"]`)),
		)
		checkPage(t, tour.tab, size, "the Tokens page")
		tour.do(
			chromedp.SendKeys(chromedp.CSS(`#token-name`), "deploy pipeline "+size.Name),
			chromedp.Click(chromedp.CSS(`input[name="scope"][value="request"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="token-create"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="token-secret"]`)),
		)
		secret, err := chromedp.Run(tour.tab, chromedp.Evaluate[string](`document.querySelector('[data-testid="token-secret"]').value`))
		require.NoError(t, err)
		require.Regexp(t, `^cdp_[A-Za-z0-9_-]{43}$`, secret)
		scopes, err := chromedp.Run(tour.tab, chromedp.Evaluate[string](`document.querySelector('[data-testid="token-row"] td:nth-of-type(2)').innerText`))
		require.NoError(t, err)
		require.Equal(t, "read, request", scopes)
		checkPage(t, tour.tab, size, "the Tokens page with a new token")
		browsertest.Settle()
		require.Empty(t, report.CSPViolations(), size.Name)
		require.Empty(t, report.Exceptions(), size.Name)
	}
	// The menu gained a link: on a phone it still fits for the people
	// with the most links (an approver, an auditor, an admin).
	for _, who := range []string{"bob", "erin", "dave"} {
		tour := &pageTour{t: t, base: base, tab: browsertest.New(t)}
		require.NoError(t, browsertest.Resize(tour.tab, browsertest.Mobile))
		tour.signIn(who)
		tour.do(chromedp.Navigate(base+"/requests"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav-tokens"]`)))
		checkPage(t, tour.tab, browsertest.Mobile, "the requests page as "+who)
	}
}
