package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// newGovernanceJourney starts `portal serve` on the simulator with the
// approvers group as the emergency group.
func newGovernanceJourney(t *testing.T) *liveJourney {
	t.Helper()
	vars, _ := testEnvSim(t)
	vars["PORTAL_EMERGENCY_GROUPS"] = "approvers"
	base, _ := start(t, []string{"serve"}, vars)
	pool, err := database.Open(t.Context(), vars["PORTAL_DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	j := &liveJourney{t: t, base: base, pool: pool, name: "analytics-staging"}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		list, err := inventory.ClusterByName(t.Context(), pool, j.name)
		require.NoError(c, err)
		require.Len(c, list, 1)
		j.uid = list[0].UID
	}, 30*time.Second, 100*time.Millisecond, "the worker's first sync copies the demo clusters")
	return j
}

func (j *liveJourney) clusterUID(name string) string {
	j.t.Helper()
	list, err := inventory.ClusterByName(j.t.Context(), j.pool, name)
	require.NoError(j.t, err)
	require.Len(j.t, list, 1)
	return list[0].UID
}

func bodyText(t *testing.T, tab context.Context) string {
	t.Helper()
	text, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(t, err)
	return text
}

// TestBrowserGovernance, at a laptop's and a phone's size: alice files a
// production restart; dave creates the analytics team (requesters:
// developers) and an ownership rule (prefix analytics-); alice's cluster
// list opens on My clusters with the analytics clusters only, the delete
// button is absent and the delete form refused with what would grant it;
// dave raises the production policy to three approvals and alice's
// request page says it needs three; bob (emergency group) restarts a
// server as an emergency: approved without approval, flagged, listed
// awaiting review until carol reviews it. Every page passes axe and fits.
func TestBrowserGovernance(t *testing.T) {
	t.Parallel()
	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		t.Run(size.Name, func(t *testing.T) {
			j := newGovernanceJourney(t)
			prod, staging := j.clusterUID("analytics-prod"), j.uid

			alice := browsertest.New(t)
			watched := browsertest.Watch(t, alice)
			require.NoError(t, browsertest.Resize(alice, size))
			j.signInAt(alice, "/clusters/"+prod+"/requests/new?kind=restart_server", "alice")
			fileRestart(t, j, alice, "governance journey")
			requestURL, err := chromedp.Run(alice, chromedp.Location())
			require.NoError(t, err)

			// Dave: a team and an ownership rule.
			dave := j.newTab(alice, chromedp.WithNewBrowserContext())
			require.NoError(t, browsertest.Resize(dave, size))
			j.signInAt(dave, "/admin", "dave")
			j.noError(dave, step(dave,
				chromedp.Click(chromedp.CSS(`[data-testid="admin-teams-link"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="teams-empty"]`)),
			))
			checkPage(t, dave, size, "the teams page, empty")
			j.noError(dave, step(dave,
				chromedp.SendKeys(chromedp.CSS(`[data-testid="team-name"]`), "analytics"),
				chromedp.SendKeys(chromedp.CSS(`[data-testid="team-requesters"]`), "developers"),
				chromedp.SendKeys(chromedp.CSS(`[data-testid="team-approvers"]`), "approvers"),
				chromedp.SendKeys(chromedp.CSS(`[data-testid="team-leads"]`), "analytics-leads"),
				chromedp.Click(chromedp.CSS(`[data-testid="team-save"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-team="analytics"]`)),
				chromedp.SetValue(chromedp.CSS(`[data-testid="rule-source"]`), "prefix"),
				chromedp.SendKeys(chromedp.CSS(`[data-testid="rule-key"]`), "analytics-"),
				chromedp.SetValue(chromedp.CSS(`[data-testid="rule-team"]`), "analytics"),
				chromedp.Click(chromedp.CSS(`[data-testid="rule-add"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="rule-row"]`)),
			))
			require.Contains(t, bodyText(t, dave), `names starting with "analytics-" belong to analytics`)
			require.Contains(t, bodyText(t, dave), "clickstream-dev", "unowned, listed for admins")
			checkPage(t, dave, size, "the teams page with a team and a rule")

			// Alice: My clusters, and no delete of another team's cluster.
			j.noError(alice, step(alice,
				chromedp.Navigate(j.base+"/clusters"),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="cluster-row"]`)),
			))
			list := bodyText(t, alice)
			require.Contains(t, list, "analytics-staging")
			require.NotContains(t, list, "clickstream-dev")
			mine, err := chromedp.Run(alice, chromedp.Evaluate[string](`document.querySelector('[data-testid="cluster-team-filter"]').value`))
			require.NoError(t, err)
			require.Equal(t, "mine", mine)
			checkPage(t, alice, size, "My clusters")
			j.noError(alice, step(alice,
				chromedp.Navigate(j.base+"/clusters/"+staging),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="cluster-team"]`)),
			))
			deletes, err := chromedp.Run(alice, chromedp.Evaluate[int](`document.querySelectorAll('a[href$="kind=delete"]').length`))
			require.NoError(t, err)
			require.Zero(t, deletes, "no delete button for alice")
			j.noError(alice, step(alice, chromedp.Navigate(j.base+"/clusters/"+staging+"/requests/new?kind=delete"),
				chromedp.WaitVisible(chromedp.CSS(`main`))))
			require.Contains(t, bodyText(t, alice), "delete requests on the analytics team's clusters need a member of analytics-leads")
			checkPage(t, alice, size, "the refused delete form")

			// Dave: production needs three approvals; alice's open request says so.
			j.noError(dave, step(dave,
				chromedp.Navigate(j.base+"/admin/policies"),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="policy-new-form"]`)),
			))
			checkPage(t, dave, size, "the policies with the new policy form")
			j.noError(dave, step(dave,
				chromedp.Click(chromedp.CSS(`[data-policy="production"] a`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="policy-form"]`)),
				chromedp.SetValue(chromedp.CSS(`[data-testid="policy-approvals-input"]`), "3"),
				chromedp.Click(chromedp.CSS(`[data-testid="policy-preview"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="policy-effect"]`)),
			))
			checkPage(t, dave, size, "the policy preview")
			j.noError(dave, step(dave,
				chromedp.Click(chromedp.CSS(`[data-testid="policy-save"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="policy-change"]`)),
			))
			require.Contains(t, bodyText(t, dave), "approvals_required: 2 → 3")
			checkPage(t, dave, size, "the policy with its history")
			j.noError(alice, step(alice, chromedp.Navigate(requestURL), chromedp.WaitVisible(chromedp.CSS(`[data-testid="policy-changed"]`))))
			count, err := liveText(alice, `[data-testid="approvals-count"]`)
			require.NoError(t, err)
			require.Contains(t, count, "0 of 3 approvals given")
			checkPage(t, alice, size, "the request after the policy change")

			// Bob: an emergency restart; carol reviews it.
			bob := j.newTab(alice, chromedp.WithNewBrowserContext())
			require.NoError(t, browsertest.Resize(bob, size))
			j.signInAt(bob, "/clusters/"+staging, "bob")
			j.noError(bob, step(bob,
				chromedp.Click(chromedp.CSS(`[data-testid="emergency-link"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergency-form"]`)),
			))
			checkPage(t, bob, size, "the emergency form")
			j.noError(bob, step(bob,
				chromedp.SendKeys(chromedp.CSS(`[data-testid="emergency-justification"]`), "broker out of memory"),
				chromedp.SendKeys(chromedp.CSS(`[data-testid="emergency-confirm"]`), "analytics-staging"),
				chromedp.Click(chromedp.CSS(`[data-testid="emergency-submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergency-banner"]`)),
			))
			banner, err := liveText(bob, `[data-testid="emergency-banner"]`)
			require.NoError(t, err)
			require.Contains(t, banner, "EMERGENCY")
			require.Contains(t, banner, "broker out of memory")
			emergencyURL, err := chromedp.Run(bob, chromedp.Location())
			require.NoError(t, err)
			checkPage(t, bob, size, "the emergency request")
			j.noError(dave, step(dave, chromedp.Navigate(j.base+"/admin/emergencies"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergency-row"]`))))
			checkPage(t, dave, size, "the emergencies awaiting review")

			carol := j.newTab(alice, chromedp.WithNewBrowserContext())
			require.NoError(t, browsertest.Resize(carol, size))
			j.signInAt(carol, strings.TrimPrefix(emergencyURL, j.base), "carol")
			j.noError(carol, step(carol,
				chromedp.SendKeys(chromedp.CSS(`[data-testid="emergency-review-comment"]`), "right call"),
				chromedp.Click(chromedp.CSS(`[data-testid="emergency-review-submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergency-reviewed"]`)),
			))
			j.noError(dave, step(dave, chromedp.Navigate(j.base+"/admin/emergencies"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergencies-empty"]`))))

			browsertest.Settle()
			require.Empty(t, watched.CSPViolations(), "all messages: %q", watched.Messages())
			require.Empty(t, watched.Exceptions())
		})
	}
}
