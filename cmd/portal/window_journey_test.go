package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestBrowserChangeWindow: dave opens a change window for staging that
// starts at the next whole minute (UTC) and lasts one; alice files a
// restart on analytics-staging and bob approves it before the window
// opens: the request page says it waits and until when, and the change is
// sent once the window opens (the worker schedules it), not before. The
// pages pass axe and fit at both sizes.
func TestBrowserChangeWindow(t *testing.T) {
	t.Parallel()
	j := newGovernanceJourney(t)
	opens := windowStart(time.Now().UTC())

	dave := browsertest.New(t)
	watched := browsertest.Watch(t, dave)
	j.signInAt(dave, "/admin/windows", "dave")
	weekday := strconv.Itoa((int(opens.Weekday())+6)%7 + 1) // Monday is 1
	j.noError(dave, step(dave,
		chromedp.SetValue(chromedp.CSS(`[data-testid="window-name"]`), "staging minute"),
		chromedp.Click(chromedp.CSS(`input[name="weekdays"][value="`+weekday+`"]`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid="window-start"]`), opens.Format("15:04")),
		chromedp.SetValue(chromedp.CSS(`[data-testid="window-end"]`), opens.Add(time.Minute).Format("15:04")),
		chromedp.SetValue(chromedp.CSS(`[data-testid="window-environments"]`), "staging"),
		chromedp.Click(chromedp.CSS(`[data-testid="window-add"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="window-row"]`)),
	))
	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		require.NoError(t, browsertest.Resize(dave, size))
		checkPage(t, dave, size, "the change windows")
	}

	alice := j.newTab(dave, chromedp.WithNewBrowserContext())
	j.signInAt(alice, "/clusters/"+j.uid+"/requests/new?kind=restart_server", "alice")
	fileRestart(t, j, alice, "restart inside the window")
	where, err := chromedp.Run(alice, chromedp.Location())
	require.NoError(t, err)
	path := strings.TrimPrefix(where, j.base)

	bob := j.newTab(dave, chromedp.WithNewBrowserContext())
	j.signInAt(bob, path, "bob")
	j.noError(bob, approve(bob))
	require.True(t, time.Now().Before(opens), "approved before the window opens (at %s); the test must start earlier in the minute", opens)
	j.noError(alice, step(alice,
		chromedp.Navigate(j.base+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-waits"]`)),
	))
	waits, err := liveText(alice, `[data-testid="request-waits"]`)
	require.NoError(t, err)
	require.Contains(t, waits, opens.Format("15:04"), "the page says until when")
	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		require.NoError(t, browsertest.Resize(alice, size))
		checkPage(t, alice, size, "a request waiting for its window")
	}

	// Sent when the window opens, and not before.
	time.Sleep(time.Until(opens))
	j.noError(alice, step(alice,
		chromedp.Navigate(j.base+path),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="request-state"]')?.dataset.state === "succeeded"`,
			chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(40*time.Second)),
	))
	id, err := strconv.ParseInt(strings.TrimPrefix(path, "/requests/"), 10, 64)
	require.NoError(t, err)
	var sent time.Time
	require.NoError(t, j.pool.QueryRow(t.Context(),
		`SELECT min(started_at) FROM submission_attempts WHERE request_id = $1`, id).Scan(&sent))
	require.False(t, sent.Before(opens), "sent at %s, before the window opened at %s", sent, opens)

	browsertest.Settle()
	require.Empty(t, watched.CSPViolations(), "all messages: %q", watched.Messages())
	require.Empty(t, watched.Exceptions())
}

// windowStart is the start of a window that opens at least 40 s after
// now, at a whole minute, and closes a minute later on the same day.
func windowStart(now time.Time) time.Time {
	opens := now.Truncate(time.Minute).Add(time.Minute)
	if opens.Sub(now) < 40*time.Second {
		opens = opens.Add(time.Minute)
	}
	if opens.Add(time.Minute).Day() != opens.Day() { // windows do not cross midnight
		time.Sleep(opens.Add(2 * time.Minute).Sub(now))
		return windowStart(time.Now().UTC())
	}
	return opens
}
