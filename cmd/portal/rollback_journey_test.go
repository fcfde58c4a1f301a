package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/browsertest"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// rollbackJourney is the real program (serve with its worker) against the
// simulator, and a tab's helpers.
type rollbackJourney struct {
	t    *testing.T
	base string
	uid  string // analytics-staging
}

// do runs browser actions with a bound, and fails with where the tab is
// and what it shows.
func (j *rollbackJourney) do(tab context.Context, actions ...chromedp.Action[chromedp.Void]) {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(tab, 45*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, actions...)
	if err == nil {
		return
	}
	show, cancelShow := context.WithTimeout(tab, 5*time.Second)
	defer cancelShow()
	where, _ := chromedp.Run(show, chromedp.Location())
	text, _ := chromedp.Run(show, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	j.t.Fatalf("%v at %s showing:\n%s", err, where, text)
}

// signIn opens path in tab, signing in as username at the provider's
// picker on the way.
func (j *rollbackJourney) signIn(tab context.Context, path, username string) {
	j.t.Helper()
	j.do(tab,
		chromedp.Navigate(j.base+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-`+username+`"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="user-`+username+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-user"]`)),
	)
}

// approve signs each approver in, in a browser context of their own, and
// approves the request at path; then waits on tab for it to succeed.
func (j *rollbackJourney) approve(tab context.Context, path string, approvers ...string) {
	j.t.Helper()
	for _, name := range approvers {
		other, cancel := chromedp.NewContext(tab, chromedp.WithNewBrowserContext())
		// The first call on a new context opens its tab and must not be
		// bounded: the end of its context would close the tab.
		require.NoError(j.t, chromedp.Do(other))
		j.signIn(other, path, name)
		require.NoError(j.t, approve(other))
		cancel()
	}
	j.do(tab,
		chromedp.Navigate(j.base+path),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="request-state"]')?.dataset.state === "succeeded"`,
			chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(40*time.Second)),
	)
}

// requestPath is the request page the tab shows.
func (j *rollbackJourney) requestPath(tab context.Context) string {
	j.t.Helper()
	loc, err := chromedp.Run(tab, chromedp.Location())
	require.NoError(j.t, err)
	path := strings.TrimPrefix(loc, j.base)
	require.True(j.t, strings.HasPrefix(path, "/requests/"), "on a request page: %s", loc)
	return path
}

// TestBrowserRollbackJourney: alice scales analytics-staging up through the
// update form and bob approves; then alice rolls it back to the version
// before from the cluster page's versions list, bob and carol approve (a
// scale-down needs two), the cluster converges, and the versions list shows
// the three versions with the requests that made them.
func TestBrowserRollbackJourney(t *testing.T) {
	t.Parallel()
	vars, _ := testEnvSim(t)
	base, _ := start(t, []string{"serve"}, vars)
	pool, err := database.Open(t.Context(), vars["PORTAL_DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	j := &rollbackJourney{t: t, base: base}
	var first inventory.Cluster
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		list, err := inventory.ClusterByName(t.Context(), pool, "analytics-staging")
		require.NoError(c, err)
		require.Len(c, list, 1)
		first = list[0]
	}, 30*time.Second, 100*time.Millisecond, "the worker's first sync copies the demo clusters")
	j.uid = first.UID
	replicas := *first.Spec.Data.Tier1.Replicas

	alice := browsertest.New(t)
	page := browsertest.Watch(t, alice)

	// Alice scales the cluster up in the update form; bob approves.
	j.signIn(alice, "/clusters/"+j.uid+"/update", "alice")
	j.do(alice,
		chromedp.SetValue(chromedp.CSS(`#data_tier1_replicas`), strconv.Itoa(int(replicas+1))),
		chromedp.SetValue(chromedp.CSS(`#reason`), "more capacity for the launch"),
		chromedp.Click(chromedp.CSS(`[data-testid="spec-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
	)
	upPath := j.requestPath(alice)
	j.approve(alice, upPath, "bob")

	// Alice rolls back to the version before, from the versions list: the
	// form shows the diff against the live cluster and what is not
	// restored.
	prev := strconv.FormatInt(first.ResourceVersion, 10)
	rollback := `[data-testid="version-row"][data-version="` + prev + `"] [data-testid="version-rollback"]`
	j.do(alice,
		chromedp.Navigate(j.base+"/clusters/"+j.uid),
		chromedp.WaitVisible(chromedp.CSS(rollback)),
	)
	// The page is live: a redraw may replace the link between finding it
	// and clicking it, so the link is read and followed in one step.
	href, err := chromedp.Run(alice, chromedp.Evaluate[string](`document.querySelector(`+strconv.Quote(rollback)+`).href`))
	require.NoError(t, err)
	j.do(alice,
		chromedp.Navigate(href),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="rollback-form"]`)),
	)
	diffRows, err := chromedp.Run(alice, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="diff-row"]').length`))
	require.NoError(t, err)
	require.Equal(t, 1, diffRows, "only the replicas go back")
	kept, err := chromedp.Run(alice, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="not-restored-row"]').length`))
	require.NoError(t, err)
	require.Equal(t, 2, kept, "desired state and deep storage are listed as not restored")
	j.do(alice,
		chromedp.SetValue(chromedp.CSS(`#reason`), "the launch moved; back to the previous size"),
		chromedp.Click(chromedp.CSS(`[data-testid="rollback-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
	)
	backPath := j.requestPath(alice)
	j.approve(alice, backPath, "bob", "carol")

	// Converged: the cluster has its old size, and the versions list shows
	// three versions, the last two with their requests.
	live, err := inventory.ClusterGet(t.Context(), pool, j.uid)
	require.NoError(t, err)
	require.Equal(t, replicas, *live.Spec.Data.Tier1.Replicas)
	j.do(alice,
		chromedp.Navigate(j.base+"/clusters/"+j.uid),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="versions-table"]`)),
	)
	rows, err := chromedp.Run(alice, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="version-row"]'))
		.map(r => r.dataset.version + " " + r.querySelector('[data-testid="version-origin"]').innerText.trim())`))
	require.NoError(t, err)
	upID, backID := strings.TrimPrefix(upPath, "/requests/"), strings.TrimPrefix(backPath, "/requests/")
	require.Equal(t, []string{
		strconv.FormatInt(first.ResourceVersion+2, 10) + " Request #" + backID,
		strconv.FormatInt(first.ResourceVersion+1, 10) + " Request #" + upID,
		prev + " Changed outside Clusterdesk",
	}, rows)
	back, err := approvals.Get(t.Context(), pool, mustID(t, backID))
	require.NoError(t, err)
	require.Equal(t, approvals.KindRollback, back.Kind)
	drifts, err := approvals.DriftList(t.Context(), pool, j.uid)
	require.NoError(t, err)
	require.Empty(t, drifts, "the portal's own changes are not drift")

	browsertest.Settle()
	require.Empty(t, page.CSPViolations(), "all messages: %q", page.Messages())
	require.Empty(t, page.Exceptions())
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return id
}
