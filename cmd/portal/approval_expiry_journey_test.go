package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestBrowserApprovalExpiry: dave sets the production policy's approvals
// to expire after ten seconds; alice files a production restart (two
// approvals) and carol approves it. Once her approval is ten seconds old,
// her page says it expired and when, and offers to approve afresh; bob
// approves, carol approves afresh, and the change is sent, once. The pages
// pass axe and fit.
//
// Ten seconds, not two: bob's approval and carol's renewal must both
// still count when the worker sends the change, on a loaded machine.
func TestBrowserApprovalExpiry(t *testing.T) {
	t.Parallel()
	j := newGovernanceJourney(t)
	prod := j.clusterUID("analytics-prod")

	dave := browsertest.New(t)
	watched := browsertest.Watch(t, dave)
	j.signInAt(dave, "/admin/policies", "dave")
	j.noError(dave, step(dave,
		chromedp.Click(chromedp.CSS(`[data-policy="production"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="policy-form"]`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid="policy-max-age"]`), "10s"),
		chromedp.Click(chromedp.CSS(`[data-testid="policy-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="policy-change"]`)),
	))
	require.Contains(t, bodyText(t, dave), `approval_max_age: "168h0m0s" → "10s"`)
	checkPage(t, dave, browsertest.Desktop, "the policy with its approval age")

	alice := j.newTab(dave, chromedp.WithNewBrowserContext())
	j.signInAt(alice, "/clusters/"+prod+"/requests/new?kind=restart_server", "alice")
	fileRestart(t, j, alice, "approvals that expire")
	where, err := chromedp.Run(alice, chromedp.Location())
	require.NoError(t, err)
	path := strings.TrimPrefix(where, j.base)
	id, err := strconv.ParseInt(strings.TrimPrefix(path, "/requests/"), 10, 64)
	require.NoError(t, err)

	carol := j.newTab(dave, chromedp.WithNewBrowserContext())
	j.signInAt(carol, path, "carol")
	j.noError(carol, approve(carol))
	j.noError(carol, step(carol, chromedp.WaitVisible(chromedp.CSS(`[data-testid="approvals-expire"]`))))
	expires, err := liveText(carol, `[data-testid="approvals-expire"]`)
	require.NoError(t, err)
	require.Contains(t, expires, "Approvals count for 10 s until the change is sent")

	// Nothing on the page changes when an approval expires: reload.
	j.noError(carol, reloadUntil(carol, j.base+path, `[data-testid="approval-expired"]`, 40*time.Second))
	expired, err := liveText(carol, `[data-testid="approval-expired"]`)
	require.NoError(t, err)
	require.Regexp(t, `^Carol .*'s approval expired on .*; a fresh approval is needed\.$`, expired)
	button, err := liveText(carol, `[data-testid="approve-button"]`)
	require.NoError(t, err)
	require.Contains(t, button, "afresh")
	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		require.NoError(t, browsertest.Resize(carol, size))
		checkPage(t, carol, size, "a request whose approval expired")
	}
	require.NoError(t, browsertest.Resize(carol, browsertest.Desktop))

	bob := j.newTab(dave, chromedp.WithNewBrowserContext())
	j.signInAt(bob, path, "bob")
	j.noError(bob, approve(bob))
	count, err := liveText(bob, `[data-testid="approvals-count"]`)
	require.NoError(t, err)
	require.Contains(t, count, "1 of 2 approvals given", "carol's expired approval does not count")

	// Carol approves afresh: her decision is renewed, not added.
	j.noError(carol, renew(carol, j.base+path))
	j.noError(alice, step(alice,
		chromedp.Navigate(j.base+path),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="request-state"]')?.dataset.state === "succeeded"`,
			chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(40*time.Second)),
	))
	var attempts, decisions int
	require.NoError(t, j.pool.QueryRow(t.Context(), `SELECT count(*) FROM submission_attempts WHERE request_id = $1`, id).Scan(&attempts))
	require.Equal(t, 1, attempts, "sent once")
	require.NoError(t, j.pool.QueryRow(t.Context(), `SELECT count(*) FROM approvals WHERE request_id = $1`, id).Scan(&decisions))
	require.Equal(t, 2, decisions)
	var renewals int
	require.NoError(t, j.pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log
		WHERE action = 'request.approved' AND subject_id = $1 AND (data->>'renewed')::boolean`, path[len("/requests/"):]).Scan(&renewals))
	require.Equal(t, 1, renewals, "the renewal is audited")

	browsertest.Settle()
	require.Empty(t, watched.CSPViolations(), "all messages: %q", watched.Messages())
	require.Empty(t, watched.Exceptions())
}

// reloadUntil loads url in tab again and again until selector finds an
// element, for a page that nothing redraws (an approval expiring is no
// event).
func reloadUntil(tab context.Context, url, selector string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := step(tab, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"]`)))
		var found bool
		if err == nil {
			found, err = chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector(`+strconv.Quote(selector)+`) !== null`))
		}
		if err == nil && found {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never showed %s (last error: %v)", url, selector, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// renew clicks "Approve afresh" on the page at url and waits until the
// request is no longer pending (a renewal adds no decision to count).
func renew(tab context.Context, url string) error {
	for try := 1; ; try++ {
		err := step(tab,
			chromedp.Navigate(url),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="approve-button"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="approve-button"]`)),
		)
		if err == nil || try == 5 || !strings.Contains(strings.ToLower(err.Error()), "node") {
			if err != nil {
				return err
			}
			break
		}
	}
	// The click posts the form and loads the page again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(tab, 5*time.Second)
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="request-state"]')?.dataset.state ?? ""`))
		cancel()
		if err == nil && state != "" && state != "pending" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the request stayed %q after the renewal (%v)", state, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
