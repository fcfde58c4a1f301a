package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestBrowserRequestsJourney drives the real program in headless Chromium
// at a laptop's and a phone's size: alice opens the requests page from the
// menu, keeps her own requests, pages to the older ones and back, narrows
// to the cancelled ones, to a cluster, then to another person by name, and
// follows a row to its request page. With filters applied, axe-core finds
// nothing and nothing scrolls sideways.
//
// The requests: one of each kind by alice (fileOneOfEachKind), 22 stops of
// analytics-staging by alice (3 of them cancelled) and 2 stops of
// analytics-prod by bob: 30, of which alice filed 28, more than one page.
func TestBrowserRequestsJourney(t *testing.T) {
	t.Parallel()
	vars, _ := testEnvSim(t)
	base, pool := serveDemo(t, vars)

	// alice and bob sign in once so that they exist.
	j := &requestsJourney{t: t, base: base}
	j.signIn(browsertest.New(t), "/", "bob")
	j.signIn(browsertest.New(t), "/", "alice")
	staging := clusterByName(t, pool, "analytics-staging")
	prod := clusterByName(t, pool, "analytics-prod")
	fileOneOfEachKind(t, pool, staging, clusterByName(t, pool, "clickstream-dev"))
	alice, bob := journeyActor(t, pool, "alice"), journeyActor(t, pool, "bob")
	svc := approvals.New(pool, approvals.Config{})
	for i := range 22 {
		r, err := svc.Create(t.Context(), alice, approvals.NewRequest{Kind: approvals.KindStop, ClusterUID: staging.UID, Reason: fmt.Sprintf("quiet weekend %d", i)})
		require.NoError(t, err)
		if i < 3 {
			_, err = svc.Cancel(t.Context(), alice, r.ID, "")
			require.NoError(t, err)
		}
	}
	for range 2 {
		_, err := svc.Create(t.Context(), bob, approvals.NewRequest{Kind: approvals.KindStop, ClusterUID: prod.UID, Reason: "cost review"})
		require.NoError(t, err)
	}

	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		t.Run(size.Name, func(t *testing.T) {
			j := &requestsJourney{t: t, base: base, size: size}
			tab := browsertest.New(t)
			report := browsertest.Watch(t, tab)
			require.NoError(t, browsertest.Resize(tab, size))
			j.signIn(tab, "/", "alice")

			// From the menu; the entry says where she is.
			j.do(tab,
				chromedp.Click(chromedp.CSS(`[data-testid="nav-requests"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="requests-table"]`)),
			)
			j.waitFor(tab, `document.querySelector('[data-testid="nav-requests"]').getAttribute("aria-current") === "page"`)
			j.waitFor(tab, `document.querySelector('[data-testid="requests-summary"]').textContent.startsWith("30 requests in all")`)

			// Mine: 28, a full page and an older one.
			j.do(tab, toggle("filter-mine"))
			j.waitFor(tab, `location.search === "?mine=1" && document.querySelector('[data-testid="requests-summary"]').textContent.startsWith("28 requests match")`)
			require.Equal(t, 25, j.rows(tab))
			first := j.firstRow(tab)
			j.do(tab, chromedp.Click(chromedp.CSS(`[data-testid="requests-older"]`)))
			j.waitFor(tab, `location.search.includes("before=") && document.querySelectorAll('[data-testid="requests-row"]').length === 3`)
			j.do(tab, chromedp.Click(chromedp.CSS(`[data-testid="requests-newer"]`)))
			j.waitFor(tab, `location.search.includes("after=") && document.querySelectorAll('[data-testid="requests-row"]').length === 25`)
			require.Equal(t, first, j.firstRow(tab), "back on the first page")

			// Mine and cancelled.
			j.do(tab,
				chromedp.Click(chromedp.CSS(`.requests-states summary`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="filter-state-cancelled"]`)),
				toggle("filter-state-cancelled"),
			)
			j.waitFor(tab, `location.search === "?mine=1&state=cancelled" && document.querySelectorAll('[data-testid="requests-row"]').length === 3`)
			j.judge(tab, "mine and cancelled")
			j.screenshot(tab, "requests-list-"+size.Name+".png", map[bool]string{
				false: `window.scrollTo(0, 0)`, true: `document.querySelector('[data-testid="requests-summary"]').scrollIntoView()`}[size.Mobile])

			// Mine on one cluster, picked by name.
			j.do(tab,
				toggle("filter-state-cancelled"),
				chromedp.SendKeys(chromedp.CSS(`[data-testid="filter-cluster"]`), "clickstream-dev"),
				chromedp.Click(chromedp.CSS(`[data-testid="filter-submit"]`)),
			)
			j.waitFor(tab, `location.search === "?cluster=clickstream-dev&mine=1" && document.querySelectorAll('[data-testid="requests-row"]').length === 2`)
			kinds := j.eval(tab, `[...document.querySelectorAll('[data-testid="requests-link"]')].map(a => a.textContent.replace(/#[0-9,]+ /, "")).join(",")`)
			require.Equal(t, "delete,start", kinds)

			// Someone else's, by name; the requester column says whose.
			j.do(tab,
				toggle("filter-mine"),
				chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="filter-cluster"]').value = ""`),
				chromedp.SendKeys(chromedp.CSS(`[data-testid="filter-person"]`), "Bob Brown"),
				chromedp.Click(chromedp.CSS(`[data-testid="filter-submit"]`)),
			)
			j.waitFor(tab, `location.search === "?person=Bob+Brown" && document.querySelectorAll('[data-testid="requests-row"]').length === 2`)
			require.Equal(t, "0 of 2 approvals", j.eval(tab, `document.querySelector('[data-testid="requests-waits"]').textContent`), "production asks for two")
			j.judge(tab, "filed by Bob Brown")

			// A row leads to its request page.
			href := j.eval(tab, `document.querySelector('[data-testid="requests-link"]').getAttribute("href")`)
			require.Regexp(t, regexp.MustCompile(`^/requests/[0-9]+$`), href)
			j.do(tab,
				chromedp.Click(chromedp.CSS(`[data-testid="requests-link"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
			)
			j.waitFor(tab, `location.pathname === "`+href+`"`)

			browsertest.Settle()
			assert.Empty(t, report.CSPViolations())
			assert.Empty(t, report.Exceptions())
		})
	}
}

// journeyActor is a person who signed in, as the request service knows them.
func journeyActor(t *testing.T, pool *pgxpool.Pool, username string) approvals.Actor {
	t.Helper()
	var (
		id   int64
		name string
	)
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT id, name FROM users WHERE username = $1`, username).Scan(&id, &name))
	return approvals.Actor{UserID: id, Name: name, Groups: []string{"developers"}, Origin: audit.Origin{IP: "192.0.2.1"}}
}

// requestsJourney holds what the journey's steps share.
type requestsJourney struct {
	t    *testing.T
	base string
	size browsertest.Size
}

// do runs browser actions with a bound and fails with where the tab is.
func (j *requestsJourney) do(tab context.Context, actions ...chromedp.Action[chromedp.Void]) {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		where, _ := chromedp.Run(tab, chromedp.Location())
		text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		j.t.Fatalf("browser step failed at %s: %v\n%s", where, err, text[:min(len(text), 3000)])
	}
}

func (j *requestsJourney) signIn(tab context.Context, path, username string) {
	j.t.Helper()
	j.do(tab,
		chromedp.Navigate(j.base+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-`+username+`"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="user-`+username+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-user"]`)),
	)
}

func (j *requestsJourney) eval(tab context.Context, js string) string {
	j.t.Helper()
	out, err := chromedp.Run(tab, chromedp.Evaluate[string](js))
	require.NoError(j.t, err, js)
	return out
}

func (j *requestsJourney) rows(tab context.Context) int {
	j.t.Helper()
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="requests-row"]').length`))
	require.NoError(j.t, err)
	return n
}

func (j *requestsJourney) firstRow(tab context.Context) string {
	j.t.Helper()
	return j.eval(tab, `document.querySelector('[data-testid="requests-row"]').dataset.id`)
}

// waitFor polls the JavaScript condition cond in tab until it holds.
func (j *requestsJourney) waitFor(tab context.Context, cond string) {
	j.t.Helper()
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		last = err
	}
	where, _ := chromedp.Run(tab, chromedp.Location())
	summary, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("main")?.innerText.slice(0, 1500) ?? ""`))
	j.t.Fatalf("at %s, never true: %s (last error: %v)\n%s", where, cond, last, summary)
}

// screenshot saves the viewport as name, after running scroll, when screenshots were asked for
// (PORTAL_SCREENSHOTS=dir, make screenshots).
func (j *requestsJourney) screenshot(tab context.Context, name, scroll string) {
	j.t.Helper()
	dir := os.Getenv("PORTAL_SCREENSHOTS")
	if dir == "" {
		return
	}
	j.do(tab, chromedp.Evaluate[chromedp.Void](scroll))
	png, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	require.NoError(j.t, err)
	require.NoError(j.t, os.MkdirAll(dir, 0o755))
	require.NoError(j.t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}

// judge holds the page as it is to the bar: no axe-core violation of any
// impact, nothing wider than the viewport.
func (j *requestsJourney) judge(tab context.Context, what string) {
	j.t.Helper()
	at := what + " at " + j.size.Name
	violations, err := browsertest.Axe(tab)
	require.NoError(j.t, err, at)
	for _, v := range violations {
		j.t.Errorf("%s: axe: %s", at, v)
	}
	over, culprits, err := browsertest.Overflow(tab)
	require.NoError(j.t, err, at)
	assert.Zero(j.t, over, "%s: wider than the viewport: %s", at, strings.Join(culprits, "; "))
}

// toggle ticks or unticks a checkbox of the filter through the DOM: a
// click at its coordinates can land while the results below are swapped
// and the page shifts, and then ticks nothing.
func toggle(testid string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="` + testid + `"]').click()`)
}

// liveText reads the text of the element the selector finds in one step
// inside the page, for parts a live redraw may swap between finding the
// element and reading it over the DevTools protocol ("No node with given
// id found").
func liveText(tab context.Context, selector string) (string, error) {
	return chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector(`+strconv.Quote(selector)+`).innerText`))
}

// mark sets an attribute on the element the selector finds, in one step
// inside the page: a live part can swap the element between finding it
// and setting the attribute over the DevTools protocol ("Could not find
// node with given id").
func mark(selector, attr string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`document.querySelector(` + strconv.Quote(selector) + `).setAttribute(` + strconv.Quote(attr) + `, "yes")`)
}
