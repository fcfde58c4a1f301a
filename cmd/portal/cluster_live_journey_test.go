package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// queryReplicasJS reads the Query tier's replicas from the cluster page's
// Configuration panel.
const queryReplicasJS = `(() => {
	for (const row of document.querySelectorAll('[data-testid="spec-tier"]')) {
		if (row.querySelector('th').textContent.trim() === "Query") return row.querySelector('[data-testid="spec-replicas"]').textContent.trim();
	}
	return "";
})()`

// TestBrowserClusterPageShowsTheNewConfigurationLive, at a laptop's and a
// phone's size: alice keeps analytics-staging's page open while she files
// one more query server in another tab, bob approves it and Cloud Manager
// applies it; the page, never reloaded, shows the new resource version and
// replicas in its Configuration panel, as a fresh load of the page does.
// axe-core finds nothing and nothing sticks out sideways.
func TestBrowserClusterPageShowsTheNewConfigurationLive(t *testing.T) {
	t.Parallel()
	j := newLiveJourney(t)
	staging, err := inventory.ClusterByName(t.Context(), j.pool, "analytics-staging")
	require.NoError(t, err)
	require.Len(t, staging, 1)
	uid := staging[0].UID

	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		t.Run(size.Name, func(t *testing.T) {
			j.t = t
			alice := browsertest.New(t)
			watched := browsertest.Watch(t, alice)
			require.NoError(t, browsertest.Resize(alice, size))
			j.signInAt(alice, "/clusters/"+uid, "alice")
			j.noError(alice, step(alice,
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="spec-resource-version"]`)),
				chromedp.SetAttributeValue(chromedp.CSS(`body`), "data-not-reloaded", "yes"),
				mark(`[data-testid="cluster-spec"]`, "data-drawn-at-load"),
			))
			checkPage(t, alice, size, "the cluster page")
			before, err := liveText(alice, `[data-testid="spec-resource-version"]`)
			require.NoError(t, err)
			replicas, err := chromedp.Run(alice, chromedp.Evaluate[string](queryReplicasJS))
			require.NoError(t, err)
			n, err := strconv.Atoi(replicas)
			require.NoError(t, err, "the panel shows the query replicas")
			want := strconv.Itoa(n + 1)

			// Alice files one more query server in another tab.
			form := j.newTab(alice)
			require.NoError(t, browsertest.Resize(form, size))
			j.noError(form, step(form,
				chromedp.Navigate(j.base+"/clusters/"+uid+"/update"),
				chromedp.WaitVisible(chromedp.CSS(`#query_replicas`)),
				chromedp.SetValue(chromedp.CSS(`#query_replicas`), want),
				chromedp.SetValue(chromedp.CSS(`#reason`), "one more query server ("+size.Name+")"),
				chromedp.Click(chromedp.CSS(`[data-testid="spec-submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
			))
			requestURL, err := chromedp.Run(form, chromedp.Location())
			require.NoError(t, err)

			// Bob approves; Cloud Manager applies it.
			bob := j.newTab(alice, chromedp.WithNewBrowserContext())
			j.signInAt(bob, strings.TrimPrefix(requestURL, j.base), "bob")
			j.noError(bob, approve(bob))
			j.noError(form, step(form,
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="succeeded"]`)),
			))

			// The page kept open shows the new configuration, redrawn live.
			j.noError(alice, step(alice,
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="cluster-spec"]:not([data-drawn-at-load])`)),
				chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="spec-resource-version"]').textContent.trim() !== `+strconv.Quote(before)+
					` && `+queryReplicasJS+` === `+strconv.Quote(want)),
			))
			mark, err := chromedp.Run(alice, chromedp.AttributeValue(chromedp.CSS(`body`), "data-not-reloaded"))
			require.NoError(t, err)
			require.Equal(t, "yes", mark.Value, "the cluster page must not have been reloaded")
			cl, err := inventory.ClusterGet(t.Context(), j.pool, uid)
			require.NoError(t, err)
			shown, err := liveText(alice, `[data-testid="spec-resource-version"]`)
			require.NoError(t, err)
			require.Equal(t, strconv.FormatInt(cl.ResourceVersion, 10), strings.ReplaceAll(shown, ",", ""),
				"the panel shows the resource version the inventory has now")
			require.Equal(t, int32(n+1), *cl.Spec.Query.Replicas)
			checkPage(t, alice, size, "the cluster page after the change")

			browsertest.Settle()
			require.Empty(t, watched.CSPViolations(), "all messages: %q", watched.Messages())
			require.Empty(t, watched.Exceptions())
		})
	}
}
