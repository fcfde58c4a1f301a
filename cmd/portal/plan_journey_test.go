package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestBrowserRequestPlans opens, as bob (an approver), the request page of
// every kind a form files, on a laptop and on a phone. Each opens with its
// plan's one line (a restart names its server); the update's diff has the
// form's labels under the form's sections, each change in a word, a sign
// and a colour, its context and raw paths collapsed; on a phone the diff's
// columns stack. axe-core finds nothing and nothing scrolls sideways, with
// the collapsed parts closed and open.
func TestBrowserRequestPlans(t *testing.T) {
	t.Parallel()
	vars, _ := testEnvSim(t)
	base, pool := serveDemo(t, vars)

	first := &pageTour{t: t, base: base, tab: browsertest.New(t)}
	first.signIn("alice") // she exists once signed in; the requests are hers
	staging := clusterByName(t, pool, "analytics-staging")
	dev := clusterByName(t, pool, "clickstream-dev")
	ids := fileOneOfEachKind(t, pool, staging, dev)
	restarted := staging.Status.Servers[0]
	// analytics-staging runs 1 master, 1 query and 2 data servers;
	// clickstream-dev is stopped.
	role := strings.ToLower(string(restarted.NodeType))
	restartLine := fmt.Sprintf("Restarts server %s (%s, %s) · ", restarted.InstanceID, role, restarted.PrivateIP)
	if role == "data" {
		restartLine += "others keep serving"
	} else {
		restartLine += "the only " + role + " server · downtime"
	}
	headlines := []string{
		"Creates cluster tour-new · 4 servers",
		"Rolling update · adds 1 query server · no downtime",
		"Stops the cluster · 4 servers shut down · downtime",
		"Starts the cluster · 3 servers start",
		"Deletes the cluster · irreversible",
		restartLine,
	}
	require.Len(t, ids, len(headlines))

	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		tour := &pageTour{t: t, base: base, tab: browsertest.New(t)}
		report := browsertest.Watch(t, tour.tab)
		require.NoError(t, browsertest.Resize(tour.tab, size))
		tour.signIn("bob")
		for i, id := range ids {
			path := "/requests/" + strconv.FormatInt(id, 10)
			tour.do(chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(`[data-testid="plan-headline"]`)))
			headline, err := chromedp.Run(tour.tab, chromedp.TextContent(chromedp.CSS(`[data-testid="plan-headline"]`)))
			require.NoError(t, err)
			require.Equal(t, headlines[i], strings.TrimSpace(headline), "%s at %s", path, size.Name)
			planJudge(t, tour, size, path)
			if i == 1 {
				planCheckUpdateDiff(t, tour, size)
				planJudge(t, tour, size, path+" with its context and raw paths open")
			}
			if i == len(ids)-1 {
				row, err := chromedp.Run(tour.tab, chromedp.TextContent(chromedp.CSS(`[data-testid="request-diff"] [data-testid="diff-row"]`)))
				require.NoError(t, err)
				assert.Contains(t, row, "instance id: "+restarted.InstanceID, "the restart's diff names its server")
				assert.Contains(t, row, "address: "+restarted.PrivateIP)
			}
		}
		browsertest.Settle()
		assert.Empty(t, report.CSPViolations(), size.Name)
		assert.Empty(t, report.Exceptions(), size.Name)
	}
}

// planCheckUpdateDiff checks the update's diff on the open page: the
// form's label under its section, the change in a word with a sign, in
// the warning colour; on a phone, stacked columns. It leaves the
// collapsed parts open.
func planCheckUpdateDiff(t *testing.T, tour *pageTour, size browsertest.Size) {
	t.Helper()
	type diffRow struct {
		Group, Label, Title, Change, Before, After, Colour, Display string
	}
	row, err := chromedp.Run(tour.tab, chromedp.Evaluate[diffRow](`(() => {
		const tr = document.querySelector('[data-testid="request-diff"] [data-testid="diff-row"]');
		const label = tr.querySelector('.diff-label'), word = tr.querySelector('.diff-change-word');
		return {
			Group: tr.closest('tbody').querySelector('.diff-group th').textContent.trim(),
			Label: label.textContent.trim(), Title: label.title,
			Change: word.textContent.replace(/\s+/g, ' ').trim(),
			Before: tr.querySelector('.diff-before').textContent.trim(),
			After: tr.querySelector('.diff-after').textContent.trim(),
			Colour: getComputedStyle(word).color,
			Display: getComputedStyle(tr).display,
		};
	})()`))
	require.NoError(t, err)
	assert.Equal(t, diffRow{
		Group: "Query servers", Label: "Query replicas", Title: "spec.query.replicas", Change: "~ changed",
		Before: "1", After: "2", Colour: "rgb(154, 103, 0)", Display: map[bool]string{true: "block", false: "table-row"}[size.Mobile],
	}, row, size.Name)

	counts, err := chromedp.Run(tour.tab, chromedp.TextContent(chromedp.CSS(`[data-testid="plan-counts"]`)))
	require.NoError(t, err)
	assert.Equal(t, "Fields: + 0 to add, ~ 1 to change, − 0 to remove", strings.Join(strings.Fields(counts), " "))

	// The unchanged fields of Query servers and the raw paths open.
	tour.do(
		chromedp.Click(chromedp.CSS(`[data-testid="diff-context"] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="diff-context"] dl`)),
		chromedp.Click(chromedp.CSS(`[data-testid="diff-paths"] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="diff-paths"] code`)),
	)
	context, err := chromedp.Run(tour.tab, chromedp.TextContent(chromedp.CSS(`[data-testid="diff-context"] dl`)))
	require.NoError(t, err)
	assert.Contains(t, context, "Query instance type")
	paths, err := chromedp.Run(tour.tab, chromedp.TextContent(chromedp.CSS(`[data-testid="diff-paths"] ul`)))
	require.NoError(t, err)
	assert.Contains(t, paths, "spec.query.replicas")
}

// planJudge holds the open page to the bar every page is held to
// (pageTour.judge): no axe-core violation, nothing wider than the
// viewport, a favicon.
func planJudge(t *testing.T, tour *pageTour, size browsertest.Size, what string) {
	t.Helper()
	tour.judge(size, "bob", what)
}
