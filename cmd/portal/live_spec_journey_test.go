package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// TestBrowserLiveSpecJourney continues the create and update journeys
// after the approval: alice files a new cluster from a preset, and a
// scale-up of analytics-staging from its update form; bob approves each;
// alice's request page, never reloaded, shows the change applied stage by
// stage (the progress bar advancing), the cluster's events arriving and
// finally succeeded; the cluster list, opened before, shows the new
// cluster started without a reload.
func TestBrowserLiveSpecJourney(t *testing.T) {
	t.Parallel()
	j := newLiveJourney(t)
	staging, err := inventory.ClusterByName(t.Context(), j.pool, "analytics-staging")
	require.NoError(t, err)
	require.Len(t, staging, 1)

	for _, tc := range []struct {
		name string
		path string
		fill []chromedp.Action[chromedp.Void]
		// stages is the least number of progress values the page shows.
		stages int
	}{{
		name: "create",
		path: "/clusters/new?preset=small+development+cluster",
		fill: []chromedp.Action[chromedp.Void]{
			chromedp.SetValue(chromedp.CSS(`#name`), "live-made-dev"),
		},
		stages: 1,
	}, {
		name: "update (scale up)",
		path: "/clusters/" + staging[0].UID + "/update",
		fill: []chromedp.Action[chromedp.Void]{
			// From two data servers to four: two rolling stages.
			chromedp.SetValue(chromedp.CSS(`#data_tier1_replicas`), "4"),
		},
		stages: 2,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			j.t = t
			alice := browsertest.New(t)
			watched := browsertest.Watch(t, alice)
			j.signInAt(alice, tc.path, "alice")

			list := j.newTab(alice)
			j.noError(list, step(list,
				chromedp.Navigate(j.base+"/clusters"),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="cluster-row"]`)),
				chromedp.SetAttributeValue(chromedp.CSS(`body`), "data-not-reloaded", "yes"),
			))

			actions := append(tc.fill,
				chromedp.SetValue(chromedp.CSS(`#reason`), "live journey: "+tc.name),
				chromedp.Click(chromedp.CSS(`[data-testid="spec-submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
			)
			j.noError(alice, step(alice, actions...))
			requestURL, err := chromedp.Run(alice, chromedp.Location())
			require.NoError(t, err)
			path := strings.TrimPrefix(requestURL, j.base)
			j.watch(alice)

			bob := j.newTab(alice, chromedp.WithNewBrowserContext())
			j.signInAt(bob, path, "bob")
			j.noError(bob, approve(bob))

			j.noError(alice, step(alice,
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="succeeded"]`)),
			))
			got := j.seen(alice)
			t.Logf("request page saw %+v", got)
			require.Equal(t, "pending", got.States[0])
			require.Contains(t, got.States, "applying")
			require.Equal(t, "succeeded", got.States[len(got.States)-1])
			require.GreaterOrEqual(t, len(got.Progress), tc.stages, "the progress bar advanced stage by stage")
			require.Positive(t, got.Events, "the cluster's events arrived")

			if tc.name == "create" {
				// The list, never reloaded, shows the new cluster started.
				j.noError(list, step(list, chromedp.WaitVisible(chromedp.Search(
					`//tr[@data-testid="cluster-row"][.//a[text()="live-made-dev"]]//*[contains(@class,"state-badge") and contains(@class,"state-ok")]`))))
				mark, err := chromedp.Run(list, chromedp.AttributeValue(chromedp.CSS(`body`), "data-not-reloaded"))
				require.NoError(t, err)
				require.Equal(t, "yes", mark.Value, "the list must not have been reloaded")
			}

			browsertest.Settle()
			require.Empty(t, watched.CSPViolations(), "all messages: %q", watched.Messages())
			require.Empty(t, watched.Exceptions())
		})
	}
}
