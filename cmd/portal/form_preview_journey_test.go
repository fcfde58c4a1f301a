package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestBrowserFormPreviewJourney fills the spec forms as alice would, on a
// laptop and on a phone, and holds the review step to staying in sight:
//
//   - on the update form of analytics-staging she changes the data tier's
//     replicas far down the form; without scrolling back, the review (the
//     sticky panel on the laptop; on the phone the bar stuck to the bottom,
//     and the review section one tap away) shows the change, linked to its
//     field, and the button that files the request;
//   - she types a value that is no number: the problem count and a link to
//     the field appear in view the same way;
//   - on the create form she types the name of a cluster that exists: the
//     name gets its error (with a link to that cluster) before filing;
//   - the stop, start, delete and restart forms are judged too.
//
// Every state is held to the portal's bar: no axe-core violation, nothing
// scrolling sideways, no exception or CSP violation.
func TestBrowserFormPreviewJourney(t *testing.T) {
	t.Parallel()
	vars, _ := testEnvSim(t)
	base, pool := serveDemo(t, vars)
	staging := clusterByName(t, pool, "analytics-staging")
	prod := clusterByName(t, pool, "analytics-prod")
	dev := clusterByName(t, pool, "clickstream-dev")
	require.EqualValues(t, 2, *staging.Spec.Data.Tier1.Replicas, "the demo cluster the journey starts from")

	// One browser per size: a browser's time is bounded (browsertest.Timeout).
	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		tab := browsertest.New(t)
		watched := browsertest.Watch(t, tab)
		require.NoError(t, browsertest.Resize(tab, size))
		f := &formJourney{specJourney: specJourney{t: t, base: base, shots: os.Getenv("PORTAL_SCREENSHOTS")}, tab: tab, size: size}

		// The update form, as it opens.
		f.signIn(tab, "/clusters/"+staging.UID+"/update", "alice")
		f.do(tab, chromedp.WaitVisible(chromedp.CSS(`[data-testid="spec-form"]`)))
		f.judge("the update form")
		require.Contains(t, f.text(`[data-testid="spec-review-counts"]`), "no changes · not checked yet")

		// Far down the form, a change: the review follows it in view.
		f.fill("data_tier1_replicas", "3")
		f.waitFor(tab, `document.querySelector('[data-testid="spec-review-counts"]').textContent.includes("1 change · no problems")`)
		scrolled := f.scrollY()
		f.seeReview()
		require.Equal(t, "Data tier 1 replicas: 2 → becomes 3", f.text(`[data-testid="spec-review-change"][data-field="data_tier1_replicas"]`))
		f.inView(`[data-testid="spec-review-change"][data-field="data_tier1_replicas"]`, "the change")
		f.inView(`[data-testid="spec-submit"]`, "the File button")
		f.do(tab, chromedp.WaitVisible(chromedp.CSS(`#spec-preview [data-testid="request-diff"]`)))
		f.judge("the update form with a change")
		f.screenshot(tab, "update-form-review-"+size.Name+".png", `void 0`)

		// A value that is no number: the problem is counted and linked in view.
		f.backToField("data_tier1_replicas", scrolled)
		f.fill("data_tier1_replicas", "three")
		f.waitFor(tab, `document.querySelector('[data-testid="spec-review-counts"]').textContent.includes("1 problem")`)
		if size.Mobile {
			f.inView(`[data-testid="spec-bar"]`, "the bar")
			require.Contains(t, f.text(`[data-testid="spec-bar-counts"]`), "1 problem", "the bar counts the problem")
		}
		f.seeReview()
		f.inView(`[data-testid="spec-review-problem"][href="#data_tier1_replicas"]`, "the link to the field in error")
		require.Contains(t, f.text(`[data-testid="spec-review-problem"]`), "Data tier 1 replicas must be a whole number")
		f.inView(`[data-testid="spec-submit"]`, "the File button")
		f.judge("the update form with a problem")
		f.screenshot(tab, "update-form-problem-"+size.Name+".png", `void 0`)
		// The link leads to the field.
		f.do(tab, chromedp.Click(chromedp.CSS(`[data-testid="spec-review-problem"][href="#data_tier1_replicas"]`)))
		f.waitFor(tab, `location.hash === "#data_tier1_replicas"`)
		f.inView(`#data_tier1_replicas`, "the field in error")

		// The create form refuses a name an existing cluster has, before filing.
		f.do(tab,
			chromedp.Navigate(base+"/clusters/new?preset=small+development+cluster"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="spec-form"]`)),
		)
		f.judge("the create form")
		f.fill("name", "analytics-prod")
		f.waitFor(tab, `document.getElementById("name-error").textContent.includes("already exists")`)
		require.Equal(t, "A cluster named analytics-prod already exists. Choose another name. Open analytics-prod", f.text(`#name-error`))
		href, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('[data-testid="name-error-link"]').getAttribute("href")`))
		require.NoError(t, err)
		require.Equal(t, "/clusters/"+prod.UID, href)
		aria, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("name").getAttribute("aria-invalid") || ""`))
		require.NoError(t, err)
		require.Equal(t, "true", aria, "the input is marked invalid")
		f.seeReview()
		f.inView(`[data-testid="spec-review-problem"][href="#name"]`, "the name's problem")
		f.judge("the create form with a taken name")
		f.screenshot(tab, "create-form-taken-name-"+size.Name+".png", `void 0`)
		// Enter in a field checks the whole form and shows the review (the
		// way without JavaScript): the page comes back with the error.
		f.do(tab,
			chromedp.SetAttributeValue(chromedp.CSS(`body`), "data-before-enter", "yes"),
			chromedp.SendKeys(chromedp.CSS(`#name`), "\r"),
		)
		f.waitFor(tab, `location.hash === "#spec-review" && document.readyState === "complete" && !document.body.dataset.beforeEnter &&
			(document.querySelector('[data-testid="spec-review-counts"]')?.textContent || "").includes("1 problem") &&
			(document.getElementById("name-error")?.textContent || "").includes("A cluster named analytics-prod already exists.")`)
		require.Equal(t, base+"/clusters/new#spec-review", f.location(), "checked, not filed")

		// The forms of the simple operations.
		for _, path := range []string{
			"/clusters/" + staging.UID + "/requests/new?kind=stop",
			"/clusters/" + staging.UID + "/requests/new?kind=restart_server",
			"/clusters/" + dev.UID + "/requests/new?kind=start",
			"/clusters/" + dev.UID + "/requests/new?kind=delete",
		} {
			f.do(tab, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-new-form"]`)))
			f.judge(path)
		}
		browsertest.Settle()
		assert.Empty(t, watched.CSPViolations(), size.Name)
		assert.Empty(t, watched.Exceptions(), size.Name)
	}
}

// formJourney is a specJourney in one tab at one size.
type formJourney struct {
	specJourney
	tab  context.Context
	size browsertest.Size
}

func (f *formJourney) text(sel string) string {
	f.t.Helper()
	s, err := chromedp.Run(f.tab, chromedp.Evaluate[string](`(document.querySelector(`+jsString(sel)+`)?.textContent || "").replace(/\s+/g, " ").trim()`))
	require.NoError(f.t, err)
	return s
}

func (f *formJourney) location() string {
	f.t.Helper()
	loc, err := chromedp.Run(f.tab, chromedp.Location())
	require.NoError(f.t, err)
	return loc
}

func (f *formJourney) scrollY() float64 {
	f.t.Helper()
	y, err := chromedp.Run(f.tab, chromedp.Evaluate[float64](`window.scrollY`))
	require.NoError(f.t, err)
	return y
}

// fill scrolls input id to the middle of the screen and types value into
// it, as a person does (key by key: the live check listens to input).
func (f *formJourney) fill(id, value string) {
	f.t.Helper()
	f.do(f.tab,
		chromedp.Evaluate[chromedp.Void](`(() => { const el = document.getElementById(`+jsString(id)+`);
			el.scrollIntoView({block: "center"}); el.value = ""; })()`),
		chromedp.SendKeys(chromedp.CSS(`#`+id), value),
	)
}

// seeReview brings the review into view the way each size does: the
// laptop's panel is already there (nothing to do); the phone's bar, in
// view at the bottom, jumps to the review section.
func (f *formJourney) seeReview() {
	f.t.Helper()
	if !f.size.Mobile {
		f.inView(`[data-testid="spec-review"] h2`, "the review panel")
		return
	}
	f.inView(`[data-testid="spec-bar-review"]`, "the bar's Review link")
	f.do(f.tab, chromedp.Click(chromedp.CSS(`[data-testid="spec-bar-review"]`)))
	f.waitFor(f.tab, `location.hash === "#spec-review"`)
}

// backToField returns to input id: on the laptop nothing moved; on the
// phone the review's link to the change leads back.
func (f *formJourney) backToField(id string, scrolled float64) {
	f.t.Helper()
	if !f.size.Mobile {
		require.InDelta(f.t, scrolled, f.scrollY(), 1, "the page did not scroll")
		return
	}
	f.do(f.tab, chromedp.Click(chromedp.CSS(`[data-testid="spec-review-change"][data-field="`+id+`"] a`)))
	f.waitFor(f.tab, `location.hash === "#`+id+`"`)
	f.inView(`#`+id, "the changed field")
}

// inView fails unless the element sel is entirely inside the viewport,
// and not under the phone's bar.
func (f *formJourney) inView(sel, what string) {
	f.t.Helper()
	js := `(() => {
	const el = document.querySelector(` + jsString(sel) + `);
	if (!el) return "missing";
	const r = el.getBoundingClientRect();
	let bottom = window.innerHeight;
	const bar = document.querySelector('[data-testid="spec-bar"]');
	if (bar && !bar.contains(el) && getComputedStyle(bar).display !== "none") {
		const b = bar.getBoundingClientRect();
		if (b.top < bottom && b.bottom >= bottom - 1) bottom = b.top;
	}
	return r.width > 0 && r.top >= -1 && r.bottom <= bottom + 1 ? "yes" : "top=" + Math.round(r.top) + " bottom=" + Math.round(r.bottom) + " of " + Math.round(bottom);
})()`
	var last string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got, err := chromedp.Run(f.tab, chromedp.Evaluate[string](js))
		require.NoError(f.t, err)
		if got == "yes" {
			return
		}
		last = got
	}
	f.t.Fatalf("at %s: %s (%s) is not in view: %s", f.size.Name, what, sel, last)
}

// judge holds the page in its current state to the bar.
func (f *formJourney) judge(what string) {
	f.t.Helper()
	at := fmt.Sprintf("%s at %s", what, f.size.Name)
	violations, err := browsertest.Axe(f.tab)
	require.NoError(f.t, err, at)
	for _, v := range violations {
		f.t.Errorf("%s: axe: %s", at, v)
	}
	over, culprits, err := browsertest.Overflow(f.tab)
	require.NoError(f.t, err, at)
	if over > 0 {
		f.t.Errorf("%s: the page is %d px wider than the viewport: %s", at, over, strings.Join(culprits, "; "))
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
