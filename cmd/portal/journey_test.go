package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// TestJourneyCreateApproveAudit drives the real program (serve, with the
// development identity provider and the seeded simulator) in headless
// Chromium: alice fills the create form from a preset, types a bad deep
// storage path and sees Cloud Manager's message under it while typing and
// again after submitting, fixes it and files; she cannot approve her own
// request, not even with a forged POST; bob approves it from his queue;
// erin (auditor) finds both steps in the audit log.
//
// With PORTAL_SCREENSHOTS=dir (make screenshots) it saves the create form
// with its error, the request's diff and the request page as PNGs there.
func TestJourneyCreateApproveAudit(t *testing.T) {
	t.Parallel()
	vars, simulator := testEnvSim(t)
	base, _ := serveDemo(t, vars)

	j := &specJourney{t: t, base: base, shots: os.Getenv("PORTAL_SCREENSHOTS")}
	alice := browsertest.New(t)
	page := browsertest.Watch(t, alice)

	// alice opens the create form, signing in on the way, and picks a preset.
	j.signIn(alice, "/clusters/new", "alice")
	j.do(alice,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="spec-preset-picker"]`)),
		chromedp.SetValue(chromedp.CSS(`#preset`), "small development cluster"),
		chromedp.Click(chromedp.CSS(`[data-testid="spec-preset-fill"]`)),
	)
	j.waitFor(alice, `document.getElementById("deep_storage_path")?.value === "s3://example-druid-dev/segments"`)
	j.do(alice,
		chromedp.SendKeys(chromedp.CSS(`#name`), "journey-dev"),
		chromedp.SendKeys(chromedp.CSS(`#reason`), "A sandbox for the journey test"),
	)

	// A bad path, typed: the debounced check puts the API's message under
	// the input, without a submit and without touching what was typed.
	simulator.ResetCalls()
	j.do(alice,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("deep_storage_path").value = ""`),
		chromedp.SendKeys(chromedp.CSS(`#deep_storage_path`), "bucket/x"),
	)
	j.waitFor(alice, `document.getElementById("deep_storage_path-error")?.textContent === "Path is not a valid s3 path"`)
	state, err := chromedp.Run(alice, chromedp.Evaluate[string](`[document.activeElement.id, document.getElementById("deep_storage_path").value,
		document.getElementById("deep_storage_path").getAttribute("aria-invalid"), document.getElementById("name").value,
		document.querySelector('[data-testid="spec-api"]').textContent, location.pathname].join("|")`))
	require.NoError(t, err)
	require.Equal(t, "deep_storage_path|bucket/x|true|journey-dev|Checked by Cloud Manager (a dry run: nothing was changed).|/clusters/new", state,
		"focus, text and page stay; the input is marked invalid; Cloud Manager was asked")
	require.True(t, jrnDryRunAsked(simulator), "the live check asked the simulator")
	j.screenshot(alice, "create-form-error.png", `document.getElementById("deep_storage_path").scrollIntoView({block: "center"})`)

	// Submitted anyway: the form comes back with the message and the values.
	j.do(alice,
		chromedp.Click(chromedp.CSS(`[data-testid="spec-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="spec-errors"]`)),
	)
	msg, err := chromedp.Run(alice, chromedp.Text(chromedp.CSS(`#deep_storage_path-error`)))
	require.NoError(t, err)
	require.Equal(t, "Path is not a valid s3 path", msg)
	name, err := chromedp.Run(alice, chromedp.Value(chromedp.CSS(`#name`)))
	require.NoError(t, err)
	require.Equal(t, "journey-dev", name)

	// Fixed and filed.
	j.do(alice,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("deep_storage_path").value = ""`),
		chromedp.SendKeys(chromedp.CSS(`#deep_storage_path`), "s3://journey-bucket/segments"),
		chromedp.Click(chromedp.CSS(`[data-testid="spec-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
	)
	location, err := chromedp.Run(alice, chromedp.Location())
	require.NoError(t, err)
	m := regexp.MustCompile(`/requests/([0-9]+)$`).FindStringSubmatch(location)
	require.NotNil(t, m, location)
	requestPath := "/requests/" + m[1]

	// Her own request: no approve button, and a forged approval is refused.
	buttons, err := chromedp.Run(alice, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="approve-button"]').length`))
	require.NoError(t, err)
	require.Zero(t, buttons)
	status, err := chromedp.Run(alice, chromedp.Evaluate[int](`fetch("`+requestPath+`/approve", {method: "POST",
		headers: {"Content-Type": "application/x-www-form-urlencoded"},
		body: new URLSearchParams({csrf_token: document.querySelector('input[name="csrf_token"]').value, revision: "1", comment: "me"})}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, 403, status, "four eyes: the requester may not approve")

	// bob approves from his queue.
	bob, cancelBob := chromedp.NewContext(alice, chromedp.WithNewBrowserContext())
	defer cancelBob()
	require.NoError(t, chromedp.Do(bob), "open the tab outside a step's timeout, which would close it")
	j.signIn(bob, "/approvals", "bob")
	j.do(bob,
		chromedp.Click(chromedp.CSS(`[data-testid="request-row"][data-id="`+m[1]+`"] a[href="`+requestPath+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="approve-button"]`)),
	)
	j.screenshot(bob, "request-diff.png", `document.getElementById("request-changes").scrollIntoView({block: "start"})`)
	require.NoError(t, approve(bob))
	j.do(bob, chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"]:not([data-state="pending"])`)))
	approved, err := chromedp.Run(bob, chromedp.AttributeValue(chromedp.CSS(`[data-testid="request-state"]`), "data-state"))
	require.NoError(t, err)
	require.Contains(t, []string{"approved", "submitting", "applying", "succeeded"}, approved.Value, "approved (the worker may have moved on)")
	j.screenshot(bob, "request-page.png", `window.scrollTo(0, 0)`)

	// The journey goes on without a reload: alice's request page, open
	// since she filed, follows the change until the cluster exists and
	// started; then the cluster list shows it started.
	j.do(alice, chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="succeeded"]`)))
	j.do(alice,
		chromedp.Navigate(j.base+"/clusters"),
		chromedp.WaitVisible(chromedp.Search(`//tr[@data-testid="cluster-row"][.//a[text()="journey-dev"]]//*[contains(@class,"state-badge") and contains(@class,"state-ok")]`)),
	)

	// erin reads the audit log: the request's steps are there.
	erin, cancelErin := chromedp.NewContext(alice, chromedp.WithNewBrowserContext())
	defer cancelErin()
	require.NoError(t, chromedp.Do(erin))
	j.signIn(erin, "/audit?subject_type=request&subject_id="+m[1], "erin")
	j.do(erin, chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-list"]`)))
	actions, err := chromedp.Run(erin, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="audit-action"]')].map(e => e.textContent)`))
	require.NoError(t, err)
	require.Contains(t, actions, "request.created")
	require.Contains(t, actions, "request.approved")
	require.Contains(t, actions, "submission.applied", "and the worker's steps to the end")

	browsertest.Settle()
	require.Empty(t, page.CSPViolations())
	require.Empty(t, page.Exceptions())
}

// specJourney holds what the journey's steps share.
type specJourney struct {
	t     *testing.T
	base  string
	shots string // where screenshots go; "" takes none
}

// do runs browser actions with a bound and fails with where the tab is.
func (j *specJourney) do(tab context.Context, actions ...chromedp.Action[chromedp.Void]) {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		where, _ := chromedp.Run(tab, chromedp.Location())
		text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		j.t.Fatalf("browser step failed at %s: %v\n%s", where, err, text[:min(len(text), 3000)])
	}
}

// signIn opens path in tab, signing in as username at the provider.
func (j *specJourney) signIn(tab context.Context, path, username string) {
	j.t.Helper()
	j.do(tab,
		chromedp.Navigate(j.base+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-`+username+`"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="user-`+username+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-user"]`)),
	)
}

// screenshot saves the viewport as name after running scroll, when
// screenshots were asked for.
func (j *specJourney) screenshot(tab context.Context, name, scroll string) {
	j.t.Helper()
	if j.shots == "" {
		return
	}
	j.do(tab, chromedp.Evaluate[chromedp.Void](scroll))
	time.Sleep(200 * time.Millisecond) // let the page paint after scrolling
	png, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	require.NoError(j.t, err)
	require.NoError(j.t, os.MkdirAll(j.shots, 0o755))
	path := filepath.Join(j.shots, name)
	require.NoError(j.t, os.WriteFile(path, png, 0o644))
	j.t.Logf("screenshot: %s", path)
}

// waitFor polls the JavaScript condition cond in tab until it holds; a
// page navigating meanwhile is polled again.
func (j *specJourney) waitFor(tab context.Context, cond string) {
	j.t.Helper()
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		last = err
	}
	where, _ := chromedp.Run(tab, chromedp.Location())
	j.t.Fatalf("at %s, never true: %s (last error: %v)", where, cond, last)
}

// jrnDryRunAsked reports whether the simulator was asked to validate a new
// cluster.
func jrnDryRunAsked(s *sim.Server) bool {
	for _, c := range s.Calls() {
		if c.Operation == cloudapi.OpCreateCluster && strings.Contains(c.Path, "dryRun=true") {
			return true
		}
	}
	return false
}
