package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/browsertest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// TestBrowserCancelWithConfirmation, at a laptop's and a phone's size:
// alice files a request (a server restart) and keeps its page open; dave (an admin) opens it
// and clicks Cancel: a confirmation dialog opens (axe finds nothing, nothing
// sticks out sideways); dismissing it ("Keep the request", then Escape)
// cancels nothing; he then gives a reason and confirms. His page says
// "Cancelled by Dave Davis … Reason: …", and so does alice's, which was
// never reloaded.
func TestBrowserCancelWithConfirmation(t *testing.T) {
	t.Parallel()
	j := newLiveJourney(t)
	// A restart of one of analytics-staging's servers: a request whose page
	// has no diff table (the diff is another part of issue 13).
	staging, err := inventory.ClusterByName(t.Context(), j.pool, "analytics-staging")
	require.NoError(t, err)
	require.Len(t, staging, 1)
	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		t.Run(size.Name, func(t *testing.T) {
			j.t = t
			reason := "maintenance freeze until Monday (" + size.Name + ")"
			alice := browsertest.New(t)
			watched := browsertest.Watch(t, alice)
			require.NoError(t, browsertest.Resize(alice, size))
			j.signInAt(alice, "/clusters/"+staging[0].UID+"/requests/new?kind=restart_server", "alice")
			fileRestart(t, j, alice, "cancel journey "+size.Name)
			j.noError(alice, step(alice, chromedp.SetAttributeValue(chromedp.CSS(`body`), "data-not-reloaded", "yes")))
			requestURL, err := chromedp.Run(alice, chromedp.Location())
			require.NoError(t, err)
			path := strings.TrimPrefix(requestURL, j.base)

			dave := j.newTab(alice, chromedp.WithNewBrowserContext())
			require.NoError(t, browsertest.Resize(dave, size))
			j.signInAt(dave, path, "dave")
			// Without a click nothing of the form shows: the script moved it
			// into the dialog.
			j.noError(dave, step(dave,
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="cancel-button"]`)),
				chromedp.WaitNotVisible(chromedp.CSS(`[data-testid="cancel-form"]`)),
			))

			// Dismissed twice, by its button and by Escape: nothing happens.
			openDialog(t, j, dave)
			checkPage(t, dave, size, "the open cancel dialog")
			j.noError(dave, step(dave,
				chromedp.Click(chromedp.CSS(`[data-testid="cancel-dismiss"]`)),
				chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)),
			))
			openDialog(t, j, dave)
			j.noError(dave, step(dave,
				chromedp.KeyEvent(kb.Escape),
				chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)),
			))
			var st approvals.State
			require.NoError(t, j.pool.QueryRow(t.Context(), `SELECT state FROM change_requests WHERE id = $1`,
				strings.TrimPrefix(path, "/requests/")).Scan(&st))
			require.Equal(t, approvals.StatePending, st, "a dismissed dialog cancels nothing")
			state, err := chromedp.Run(dave, chromedp.AttributeValue(chromedp.CSS(`[data-testid="request-state"]`), "data-state"))
			require.NoError(t, err)
			require.Equal(t, "pending", state.Value)

			// Confirmed with a reason.
			openDialog(t, j, dave)
			j.noError(dave, step(dave,
				chromedp.SendKeys(chromedp.CSS(`[data-testid="cancel-reason"]`), reason),
				chromedp.Click(chromedp.CSS(`[data-testid="cancel-confirm"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="cancelled"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-cancelled"]`)),
			))
			said, err := liveText(dave, `[data-testid="request-cancelled"]`)
			require.NoError(t, err)
			require.Contains(t, said, "Cancelled by Dave Davis")
			require.Contains(t, said, reason)
			timeline, err := liveText(dave, `[data-testid="request-timeline"]`)
			require.NoError(t, err)
			require.Contains(t, timeline, "Dave Davis cancelled the request.")
			require.Contains(t, timeline, reason)
			checkPage(t, dave, size, "the cancelled request (dave)")

			// Alice's page, never reloaded, says it too.
			j.noError(alice, step(alice,
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="cancelled"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-cancel-reason"]`)),
			))
			seen, err := liveText(alice, `[data-testid="request-cancelled"]`)
			require.NoError(t, err)
			require.Contains(t, seen, "Cancelled by Dave Davis")
			require.Contains(t, seen, reason)
			mark, err := chromedp.Run(alice, chromedp.AttributeValue(chromedp.CSS(`body`), "data-not-reloaded"))
			require.NoError(t, err)
			require.Equal(t, "yes", mark.Value, "alice's page must not have been reloaded")
			checkPage(t, alice, size, "the cancelled request (alice)")

			browsertest.Settle()
			require.Empty(t, watched.CSPViolations(), "all messages: %q", watched.Messages())
			require.Empty(t, watched.Exceptions())
		})
	}
}

// fileRestart files the restart form open in tab (its first server) and
// waits for the request's page. A live part of the form may swap a node
// between finding and clicking it ("no node"): then, unless the request
// was filed anyway, it tries again.
func fileRestart(t *testing.T, j *liveJourney, tab context.Context, reason string) {
	t.Helper()
	filed := chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`))
	for try := 1; ; try++ {
		err := step(tab,
			chromedp.SetValue(chromedp.CSS(`#reason`), reason),
			chromedp.Click(chromedp.CSS(`input[name="instance_id"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="request-submit"]`)),
			filed,
		)
		if err == nil {
			return
		}
		if where, lerr := chromedp.Run(tab, chromedp.Location()); lerr == nil && !strings.Contains(where, "/requests/new") {
			j.noError(tab, step(tab, filed)) // the submit went through before the error
			return
		}
		if try == 5 || !strings.Contains(strings.ToLower(err.Error()), "node") {
			j.noError(tab, err)
		}
	}
}

// openDialog clicks "Cancel this request…" and waits for the dialog, its
// reason field focused.
func openDialog(t *testing.T, j *liveJourney, tab context.Context) {
	t.Helper()
	j.noError(tab, step(tab,
		chromedp.Click(chromedp.CSS(`[data-testid="cancel-button"]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open][data-testid="cancel-dialog"] [data-testid="cancel-reason"]`)),
		chromedp.WaitNotVisible(chromedp.CSS(`#cancel_confirm`)),
	))
	focused, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	require.NoError(t, err)
	require.Equal(t, "cancel_reason", focused, "the dialog opens with the reason field focused")
}

// checkPage fails on any axe-core violation or sideways overflow of the
// page in tab as it is now, the dialog included.
func checkPage(t *testing.T, tab context.Context, size browsertest.Size, what string) {
	t.Helper()
	violations, err := browsertest.Axe(tab)
	require.NoError(t, err)
	require.Empty(t, violations, "axe-core on %s at %s", what, size.Name)
	over, culprits, err := browsertest.Overflow(tab)
	require.NoError(t, err)
	require.Zero(t, over, "%s at %s is wider than the viewport: %v", what, size.Name, culprits)
}
