package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestBrowserClusterButtonsFollowTheClusterWithTeams: with teams, the
// request buttons of a cluster's page depend on who looks, so they are not
// part of the shared live redraw; each viewer reloads them when the
// cluster's offer changes. Alice keeps analytics-staging's page open while
// she stops it in another tab and bob approves: without a reload her page
// offers "start" instead of "stop", and still no delete (only the team's
// leads may request one).
func TestBrowserClusterButtonsFollowTheClusterWithTeams(t *testing.T) {
	t.Parallel()
	j := newGovernanceJourney(t)
	_, err := j.pool.Exec(t.Context(), `
		INSERT INTO teams (name, requester_groups, approver_groups, lead_groups) VALUES ('analytics', '{developers}', '{approvers}', '{analytics-leads}');
		INSERT INTO ownership_rules (position, source, key, team) VALUES (1, 'prefix', 'analytics-', 'analytics')`)
	require.NoError(t, err)

	alice := browsertest.New(t)
	watched := browsertest.Watch(t, alice)
	j.signInAt(alice, "/clusters/"+j.uid, "alice")
	j.noError(alice, step(alice,
		chromedp.WaitVisible(chromedp.CSS(`#cluster-operations-area [data-testid="operation-stop"]`)),
		chromedp.SetAttributeValue(chromedp.CSS(`body`), "data-not-reloaded", "yes"),
	))
	count := func(selector string) int {
		n, err := chromedp.Run(alice, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+selector+"`"+`).length`))
		require.NoError(t, err)
		return n
	}
	require.Zero(t, count(`[data-testid="operation-delete"]`), "only the team's leads may request a delete")

	form := j.newTab(alice)
	j.noError(form, step(form,
		chromedp.Navigate(j.base+"/clusters/"+j.uid+"/requests/new?kind=stop"),
		chromedp.SetValue(chromedp.CSS(`#reason`), "save money over the weekend"),
		chromedp.Click(chromedp.CSS(`[data-testid="request-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
	))
	requestURL, err := chromedp.Run(form, chromedp.Location())
	require.NoError(t, err)
	bob := j.newTab(alice, chromedp.WithNewBrowserContext())
	j.signInAt(bob, strings.TrimPrefix(requestURL, j.base), "bob")
	j.noError(bob, approve(bob))

	j.noError(alice, step(alice,
		chromedp.WaitVisible(chromedp.CSS(`#cluster-operations-area [data-testid="operation-start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-not-reloaded="yes"]`)),
	))
	require.Zero(t, count(`[data-testid="operation-stop"]`), "a stopped cluster offers no stop")
	require.Zero(t, count(`[data-testid="operation-delete"]`), "the reload keeps alice's permissions")
	browsertest.Settle()
	require.Empty(t, watched.CSPViolations(), "all messages: %q", watched.Messages())
}
