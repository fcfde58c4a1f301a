package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestBrowserAuditFiltersWithHTMX changes a filter in headless Chromium: htmx
// replaces the list and pushes the filter into the address bar, the back
// button brings the unfiltered list back, and the pager works, all under
// the CSP and without a script error.
func TestBrowserAuditFiltersWithHTMX(t *testing.T) {
	t.Parallel()
	env := auditEnv(t, 80)
	ctx := browsertest.New(t)
	page := browsertest.Watch(t, ctx)
	do := func(steps ...chromedp.Action[chromedp.Void]) error {
		step, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		return chromedp.Do(step, steps...)
	}
	rows := func() int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="audit-row"]').length`))
		require.NoError(t, err)
		return n
	}
	waitFor := func(what string, cond func(location, summary string) bool) {
		t.Helper()
		require.Eventually(t, func() bool {
			location, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil {
				return false
			}
			summary, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="audit-summary"]`)))
			return err == nil && cond(location, summary)
		}, 15*time.Second, 50*time.Millisecond, what)
	}

	require.NoError(t, do(
		chromedp.Navigate(env.url+"/audit"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-erin"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="user-erin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-list"]`)),
	))
	// The list may still be parsing when it first shows: wait for all of it.
	require.Eventually(t, func() bool { return rows() == 50 }, 15*time.Second, 50*time.Millisecond, "the first page's 50 rows")

	// A filter change: the list is swapped in place and the URL follows.
	require.NoError(t, do(chromedp.SendKeys(chromedp.CSS(`input[name="cluster"]`), "cl-1\t")))
	waitFor("the filtered list and its URL", func(location, summary string) bool {
		return strings.HasSuffix(location, "/audit?cluster=cl-1") &&
			strings.Contains(summary, "27 matching events")
	})
	require.Equal(t, 27, rows())

	// Back: the unfiltered list again.
	require.NoError(t, do(chromedp.NavigateBack()))
	waitFor("the list before the filter", func(location, summary string) bool {
		return strings.HasSuffix(location, "/audit") && strings.Contains(summary, "50 events, #80 back to #31")
	})

	// The pager, through htmx too.
	require.NoError(t, do(chromedp.Click(chromedp.CSS(`[data-testid="pager-older"]`))))
	waitFor("the older page", func(location, summary string) bool {
		return strings.HasSuffix(location, "/audit?before=31") && strings.Contains(summary, "#30 back to #1")
	})
	require.Equal(t, 30, rows())

	browsertest.Settle()
	require.Empty(t, page.CSPViolations(), "all messages: %q", page.Messages())
	require.Empty(t, page.Exceptions())
}
