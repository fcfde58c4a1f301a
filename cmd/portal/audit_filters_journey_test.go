package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestAuditFiltersJourney is an auditor finding what happened by the
// names people use, on the real portal: erin filters the audit log by
// alice's name (typing it, then picking the suggestion), then by a
// cluster's name, then by a request's number, and removes each filter from
// the line that says what the filter is. At a laptop's size and a phone's,
// every filtered page has no axe-core violation and nothing scrolls
// sideways.
func TestAuditFiltersJourney(t *testing.T) {
	t.Parallel()
	vars, _ := testEnvSim(t)
	base, pool := serveDemo(t, vars)

	first := &pageTour{t: t, base: base, tab: browsertest.New(t)}
	first.signIn("alice")
	staging := clusterByName(t, pool, "analytics-staging")
	dev := clusterByName(t, pool, "clickstream-dev")
	// create, update, stop (staging), start, delete (dev), restart (staging)
	requests := fileOneOfEachKind(t, pool, staging, dev)
	onStaging := []string{"request " + auditID(requests[1]), "request " + auditID(requests[2]), "request " + auditID(requests[5])}

	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		j := &auditJourney{pageTour: pageTour{t: t, base: base, tab: browsertest.New(t)}, size: size}
		report := browsertest.Watch(t, j.tab)
		require.NoError(t, browsertest.Resize(j.tab, size))
		j.signIn("erin")
		j.do(chromedp.Navigate(base+"/audit"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-list"]`)))
		j.judge("/audit")

		// By person: type the name, then pick the suggestion, as the
		// browser does (the value becomes the username, and it changes).
		j.do(chromedp.SendKeys(chromedp.CSS(`[data-testid="filter-person"]`), "Alice"))
		suggestion, err := chromedp.Run(j.tab, chromedp.Evaluate[string](`(() => {
			const o = [...document.querySelectorAll('#audit-people option')].find(o => o.label === 'Alice Anderson');
			if (!o) return '';
			const input = document.querySelector('[data-testid="filter-person"]');
			input.value = o.value;
			input.dispatchEvent(new Event('input', {bubbles: true}));
			input.dispatchEvent(new Event('change', {bubbles: true}));
			return o.value;
		})()`))
		require.NoError(t, err)
		require.Equal(t, "alice", suggestion, "the suggestions offer Alice Anderson as alice")
		rows := j.waitForRows("alice's events", "/audit?person=alice", "person: Alice Anderson (alice)")
		require.GreaterOrEqual(t, len(rows), len(requests), "alice filed %d requests", len(requests))
		for _, r := range rows {
			require.True(t, strings.HasPrefix(r.actor, "Alice Anderson"), "row by %q", r.actor)
		}
		j.judge("/audit?person=alice")

		// Remove it: the line saying what the filter is has a × for it.
		j.removeFilter("person", base+"/audit")

		// By cluster: the requests filed for it, nothing of the other.
		j.do(chromedp.SendKeys(chromedp.CSS(`[data-testid="filter-cluster"]`), "analytics-staging\t"))
		rows = j.waitForRows("analytics-staging's events", "/audit?cluster=analytics-staging", "cluster: analytics-staging")
		var subjects []string
		for _, r := range rows {
			if strings.HasPrefix(r.subject, "request ") {
				require.Contains(t, onStaging, r.subject, "only requests on analytics-staging")
				subjects = append(subjects, r.subject)
			}
		}
		for _, s := range onStaging {
			require.Contains(t, subjects, s)
		}
		j.judge("/audit?cluster=analytics-staging")
		j.removeFilter("cluster", base+"/audit")

		// By request: its events (here, its filing).
		j.do(chromedp.SendKeys(chromedp.CSS(`[data-testid="filter-request"]`), auditID(requests[1])+"\t"))
		rows = j.waitForRows("one request's events", "/audit?request="+auditID(requests[1]), "request: #"+auditID(requests[1]))
		require.Len(t, rows, 1)
		require.Equal(t, "request "+auditID(requests[1]), rows[0].subject)
		require.Equal(t, "request.created", rows[0].action)
		j.judge("/audit?request=" + auditID(requests[1]))

		// Everything at once, with an event's details open: the narrowest
		// layout the page has.
		j.do(chromedp.Navigate(base+"/audit?person=alice&cluster=analytics-staging&action=request.created&from=2020-01-01"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-list"]`)))
		_, err = chromedp.Run(j.tab, chromedp.Evaluate[bool](`document.querySelector('[data-testid="audit-row"] details').open = true; document.querySelector('.audit-actions').open = true`))
		require.NoError(t, err)
		j.judge("/audit with every filter, an event and the actions open")
		j.checkFilterBar()
		if dir := os.Getenv("PORTAL_SCREENSHOTS"); dir != "" {
			png, err := chromedp.Run(j.tab, chromedp.FullScreenshot(100))
			require.NoError(t, err)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "audit-filters-"+size.Name+".png"), png, 0o644))
		}

		browsertest.Settle()
		assert.Empty(t, report.CSPViolations(), size.Name)
		assert.Empty(t, report.Exceptions(), size.Name)
	}
}

func auditID(n int64) string { return strconv.FormatInt(n, 10) }

// auditJourney is the tour's steps on the audit page.
type auditJourney struct {
	pageTour
	size browsertest.Size
}

type auditRowSeen struct{ action, actor, subject string }

// waitForRows waits until htmx has put the filter in the address bar and
// the line saying what the filter is shows it, then reads the rows.
func (j *auditJourney) waitForRows(what, path, active string) []auditRowSeen {
	j.t.Helper()
	j.waitForLocation(j.base + path)
	var rows []auditRowSeen
	require.EventuallyWithT(j.t, func(c *assert.CollectT) {
		text, err := chromedp.Run(j.tab, chromedp.Text(chromedp.CSS(`[data-testid="audit-active"]`)))
		require.NoError(c, err)
		require.Contains(c, strings.Join(strings.Fields(text), " "), active)
		got, err := chromedp.Run(j.tab, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('[data-testid="audit-row"]')].map(r => [
			r.querySelector('.audit-action').textContent.trim(),
			r.querySelector('.audit-actor').textContent.trim().replace(/\s+/g, ' '),
			r.querySelector('.audit-subject').textContent.trim()])`))
		require.NoError(c, err)
		require.NotEmpty(c, got)
		rows = rows[:0]
		for _, r := range got {
			rows = append(rows, auditRowSeen{action: r[0], actor: r[1], subject: r[2]})
		}
	}, 15*time.Second, 100*time.Millisecond, what)
	return rows
}

// removeFilter clicks the × of field's filter until the address bar is
// want: under load the click may land while htmx still swaps in the
// filtered list, on a node it then replaces.
func (j *auditJourney) removeFilter(field, want string) {
	j.t.Helper()
	for try := 1; ; try++ {
		j.do(chromedp.Click(chromedp.CSS(`[data-testid="remove-`+field+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-list"]`)))
		gone := false
		for deadline := time.Now().Add(5 * time.Second); !gone && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			location, err := chromedp.Run(j.tab, chromedp.Location())
			gone = err == nil && location == want
		}
		if gone || try == 3 {
			break
		}
	}
	j.waitForLocation(want)
}

func (j *auditJourney) waitForLocation(want string) {
	j.t.Helper()
	require.EventuallyWithT(j.t, func(c *assert.CollectT) {
		location, err := chromedp.Run(j.tab, chromedp.Location())
		require.NoError(c, err)
		require.Equal(c, want, location)
	}, 15*time.Second, 50*time.Millisecond, "the address bar shows the filter")
}

// judge holds the open page to the bar: no axe-core violation of
// any impact, nothing wider than the viewport. (The favicon is the page
// tour's to check.)
func (j *auditJourney) judge(what string) {
	j.t.Helper()
	at := what + " at " + j.size.Name
	violations, err := browsertest.Axe(j.tab)
	require.NoError(j.t, err, at)
	for _, v := range violations {
		j.t.Errorf("%s: axe: %s", at, v)
	}
	over, culprits, err := browsertest.Overflow(j.tab)
	require.NoError(j.t, err, at)
	if over > 0 {
		j.t.Errorf("%s: the page is %d px wider than the viewport: %s", at, over, strings.Join(culprits, "; "))
	}
}

// checkFilterBar holds the filter bar to what it looked like broken: no
// label wraps inside a word, date inputs keep the width of a date, the
// actions are square checkboxes.
func (j *auditJourney) checkFilterBar() {
	j.t.Helper()
	bar, err := chromedp.Run(j.tab, chromedp.Evaluate[map[string][]string](`(() => {
		const out = {brokenLabels: [], narrowDates: [], roundBoxes: []};
		for (const label of document.querySelectorAll('.audit-filter-fields > label')) {
			const text = label.firstChild.textContent.trim();
			for (const word of text.split(/\s+/)) {
				const r = document.createRange();
				const node = label.firstChild;
				const at = node.textContent.indexOf(word);
				r.setStart(node, at); r.setEnd(node, at + word.length);
				if (r.getClientRects().length > 1) out.brokenLabels.push(text);
			}
		}
		for (const input of document.querySelectorAll('.audit-filter input[type="datetime-local"]')) {
			if (input.getBoundingClientRect().width < 160) out.narrowDates.push(input.name + ' ' + input.getBoundingClientRect().width);
		}
		for (const box of document.querySelectorAll('.audit-actions input[type="checkbox"]')) {
			const s = getComputedStyle(box);
			if (s.borderTopLeftRadius.endsWith('%') || parseFloat(s.borderTopLeftRadius) >= box.getBoundingClientRect().width / 2) out.roundBoxes.push(box.value + " " + s.borderTopLeftRadius + " " + box.getBoundingClientRect().width + " " + s.appearance);
		}
		return out;
	})()`))
	require.NoError(j.t, err)
	for what, list := range bar {
		slices.Sort(list)
		require.Empty(j.t, list, "%s at %s", what, j.size.Name)
	}
}
