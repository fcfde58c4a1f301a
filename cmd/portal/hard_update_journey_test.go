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
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// hardUpdateJourney is the real program (serve with its worker) against
// the simulator, and a tab's helpers.
type hardUpdateJourney struct {
	t    *testing.T
	base string
	sim  *sim.Server
}

// do runs browser actions with a bound, and fails with where the tab is
// and what it shows.
func (j *hardUpdateJourney) do(tab context.Context, actions ...chromedp.Action[chromedp.Void]) {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(tab, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		show, cancelShow := context.WithTimeout(tab, 5*time.Second)
		defer cancelShow()
		where, _ := chromedp.Run(show, chromedp.Location())
		text, _ := chromedp.Run(show, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		j.t.Fatalf("%v at %s showing:\n%s", err, where, text)
	}
}

// text is the inner text of the element sel finds in tab.
func (j *hardUpdateJourney) text(tab context.Context, sel string) string {
	j.t.Helper()
	got, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('`+sel+`')?.innerText ?? ""`))
	require.NoError(j.t, err)
	return got
}

// signIn opens path in tab, signing in as username at the provider's
// picker on the way.
func (j *hardUpdateJourney) signIn(tab context.Context, path, username string) {
	j.t.Helper()
	j.do(tab,
		chromedp.Navigate(j.base+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-`+username+`"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="user-`+username+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-user"]`)),
	)
}

// approveAs signs username in, in a browser context of their own, and
// approves the request at path.
func (j *hardUpdateJourney) approveAs(tab context.Context, path, username string) {
	j.t.Helper()
	other, cancel := chromedp.NewContext(tab, chromedp.WithNewBrowserContext())
	defer cancel()
	// The first call on a new context opens its tab and must not be
	// bounded: the end of its context would close the tab.
	require.NoError(j.t, chromedp.Do(other))
	j.signIn(other, path, username)
	require.NoError(j.t, approve(other))
}

// forcedCalls splits the simulator's calls on cluster uid sent with
// force=true into dry runs and real ones (oldest first).
func (j *hardUpdateJourney) forcedCalls(uid string) (dry, real []sim.Call) {
	for _, c := range j.sim.Calls() {
		if c.ClusterID != uid || !strings.Contains(c.Path, "force=true") {
			continue
		}
		if strings.Contains(c.Path, "dryRun=true") {
			dry = append(dry, c)
		} else {
			real = append(real, c)
		}
	}
	return dry, real
}

// TestBrowserHardUpdateJourney: alice upgrades analytics-staging (one
// master) in the update form; Cloud Manager's dry run says it can only be
// a hard update, which the form says at the version field with the choice
// beside it; she ticks it and files; the request needs two approvals (the
// hard-update policy): bob's is not enough, carol's completes it; only
// then is the PATCH sent with force=true, and the cluster runs the new
// release.
func TestBrowserHardUpdateJourney(t *testing.T) {
	t.Parallel()
	vars, simulator := testEnvSim(t)
	base, _ := start(t, []string{"serve"}, vars)
	pool, err := database.Open(t.Context(), vars["PORTAL_DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	j := &hardUpdateJourney{t: t, base: base, sim: simulator}
	var staging inventory.Cluster
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		list, err := inventory.ClusterByName(t.Context(), pool, "analytics-staging")
		require.NoError(c, err)
		require.Len(c, list, 1)
		staging = list[0]
	}, 30*time.Second, 100*time.Millisecond, "the worker's first sync copies the demo clusters")
	require.Equal(t, int32(1), *staging.Spec.Master.Replicas, "a cluster that cannot take a rolling update")
	require.Equal(t, cloudapi.StateStarted, staging.State)
	const release = "2024.07"
	require.NotEqual(t, release, staging.Spec.Version)

	alice := browsertest.New(t)
	page := browsertest.Watch(t, alice)

	// Filing the upgrade as it is: refused, the message at the version
	// field and the choice of a hard update beside it.
	j.signIn(alice, "/clusters/"+staging.UID+"/update", "alice")
	j.do(alice,
		chromedp.SetValue(chromedp.CSS(`#version`), release),
		chromedp.SetValue(chromedp.CSS(`#reason`), "2024.07 fixes the lookup bug"),
		chromedp.Click(chromedp.CSS(`[data-testid="spec-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="version-hard-update"] [data-testid="hard-update-checkbox"]`)),
	)
	require.Contains(t, j.text(alice, `[data-testid="version-error"]`), "only as a hard update")
	require.Contains(t, j.text(alice, `[data-testid="version-hard-update"]`), "Allow a hard update: all servers restart at once (downtime)")
	require.Empty(t, j.text(alice, `[data-testid="spec_json-error"]`), "the finding is at the version, not the whole spec")
	focused, err := chromedp.Run(alice, chromedp.Evaluate[string](`document.activeElement?.id ?? ""`))
	require.NoError(t, err)
	require.Equal(t, "version", focused, "focus goes to the first field in error")
	checked, err := chromedp.Run(alice, chromedp.Evaluate[bool](`document.querySelector('[data-testid="hard-update-checkbox"]').checked`))
	require.NoError(t, err)
	require.False(t, checked, "never chosen for the requester")

	// Ticking it: the live check accepts the change (Cloud Manager's dry
	// run with force=true) and the preview says it will be a hard update.
	j.do(alice,
		chromedp.Click(chromedp.CSS(`[data-testid="hard-update-checkbox"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#spec-preview [data-testid="hard-update-note"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="spec-ok"]`)),
	)
	require.Empty(t, j.text(alice, `[data-testid="version-error"]`))
	checked, err = chromedp.Run(alice, chromedp.Evaluate[bool](`document.querySelector('[data-testid="hard-update-checkbox"]').checked`))
	require.NoError(t, err)
	require.True(t, checked, "the live check keeps the choice")
	j.do(alice,
		chromedp.Click(chromedp.CSS(`[data-testid="spec-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
	)
	loc, err := chromedp.Run(alice, chromedp.Location())
	require.NoError(t, err)
	path := strings.TrimPrefix(loc, base)
	require.True(t, strings.HasPrefix(path, "/requests/"), loc)
	require.Contains(t, j.text(alice, `[data-testid="risk-hints"]`), "Hard update (force=true): every affected server restarts at once")
	require.Contains(t, j.text(alice, `[data-testid="hard-update-note"]`), "Applied as a hard update")
	require.Contains(t, j.text(alice, `[data-testid="approvals-count"]`), "0 of 2 approvals")

	// Bob's approval is not enough: nothing is sent for real yet.
	j.approveAs(alice, path, "bob")
	j.do(alice, chromedp.Navigate(base+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)))
	require.Contains(t, j.text(alice, `[data-testid="approvals-count"]`), "1 of 2 approvals")
	dry, real := j.forcedCalls(staging.UID)
	require.NotEmpty(t, dry, "the form and the approver's page asked Cloud Manager with force=true, as dry runs")
	require.Empty(t, real, "no call with force=true changed anything before the approvals")
	for _, c := range simulator.Calls() {
		require.False(t, c.ClusterID == staging.UID && c.Mutated, "nothing changed the cluster before the approvals: %s %s", c.Method, c.Path)
	}

	// Carol's completes it; the worker sends the PATCH with force=true.
	approvedAt := time.Now()
	j.approveAs(alice, path, "carol")
	j.do(alice,
		chromedp.Navigate(base+path),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="request-state"]')?.dataset.state === "succeeded"`,
			chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(40*time.Second)),
	)
	_, real = j.forcedCalls(staging.UID)
	require.NotEmpty(t, real, "the approved hard update is sent with force=true")
	for _, c := range real {
		require.Equal(t, cloudapi.OpUpdateCluster, c.Operation, "%s %s", c.Method, c.Path)
		require.True(t, c.Time.After(approvedAt), "sent only after the last approval: %s %s at %s", c.Method, c.Path, c.Time)
	}
	for _, c := range simulator.Calls() {
		if c.ClusterID == staging.UID && c.Mutated {
			require.Contains(t, c.Path, "force=true", "the only change to the cluster is the forced one: %s %s", c.Method, c.Path)
		}
	}
	live, err := inventory.ClusterGet(t.Context(), pool, staging.UID)
	require.NoError(t, err)
	require.Equal(t, release, live.Spec.Version)

	browsertest.Settle()
	require.Empty(t, page.CSPViolations(), "all messages: %q", page.Messages())
	require.Empty(t, page.Exceptions())
}
