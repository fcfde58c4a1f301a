// Package browsertest drives headless Chromium (through chromedp) in tests,
// and watches what the page reports: console messages, uncaught exceptions,
// browser log entries and Content-Security-Policy violations.
//
// Listeners injected into the page would be blocked by the portal's own CSP,
// so everything is read from the DevTools protocol instead (Runtime, Log and
// Audits events).
//
//	ctx := browsertest.New(t)
//	page := browsertest.Watch(t, ctx)
//	err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.Click(chromedp.CSS(`[data-testid="x"]`)))
//	require.Empty(t, page.CSPViolations())
//
// Chromium is found through $CHROMIUM_PATH or as chromium, chromium-browser or
// google-chrome on $PATH (apt-get install -y chromium). Without it a test
// fails when CI=true and is skipped, saying why, otherwise.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// Timeout bounds one browser test, start-up included.
const Timeout = 180 * time.Second

// ExecPath returns the Chromium binary to use, or "" when there is none.
func ExecPath() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless Chromium with a fresh profile for t and returns the
// context of one tab. The browser stops when the test ends.
func New(t testing.TB) context.Context {
	t.Helper()
	path := ExecPath()
	if path == "" {
		msg := "browsertest: Chromium not found (install it with apt-get install -y chromium, or set CHROMIUM_PATH)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI must run browser tests")
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	// On a loaded machine Chromium now and then fails to come up (its
	// DevTools endpoint does not appear in time); a fresh start with a fresh
	// profile is tried before failing.
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		var tab context.Context
		if tab, err = start(t, append(opts, chromedp.UserDataDir(t.TempDir()))); err == nil {
			return tab
		}
		t.Logf("browsertest: Chromium did not start (attempt %d of %d): %v", attempt, startAttempts, err)
	}
	t.Fatalf("browsertest: start Chromium (%s): %v", path, err)
	return nil
}

// startAttempts is how many times New tries to start Chromium.
const startAttempts = 3

// start runs one Chromium and opens its first tab; the browser stops when
// the test ends, or at once when it did not start.
func start(t testing.TB, opts []chromedp.ExecAllocatorOption) (context.Context, error) {
	ctx, cancelTimeout := context.WithTimeout(context.Background(), Timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	stop := func() {
		cancelTab()
		cancelAlloc()
		cancelTimeout()
	}
	if err := chromedp.Do(tabCtx); err != nil {
		stop()
		return nil, err
	}
	t.Cleanup(stop)
	return tabCtx, nil
}

// Page collects what a tab reports while the test runs.
type Page struct {
	mu       sync.Mutex
	messages []string // console, exceptions, browser log
	csp      []string // CSP violations, from the log or the Audits domain
}

// Watch starts collecting the tab's console messages, exceptions, log
// entries and CSP issues. Call it before navigating.
func Watch(t testing.TB, ctx context.Context) *Page {
	t.Helper()
	if _, err := chromedp.Call(ctx, audits.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("browsertest: enable Audits: %v", err)
	}
	p := &Page{}
	console := chromedp.Console(ctx)
	issues := chromedp.Events(ctx, audits.IssueAdded)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			text := fmt.Sprintf("%s (%s %s:%d)", m, m.Source, m.URL, m.Line+1)
			p.mu.Lock()
			p.messages = append(p.messages, text)
			if strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Content-Security-Policy") {
				p.csp = append(p.csp, text)
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range issues {
			if err != nil {
				return
			}
			if ev.Issue == nil || ev.Issue.Code != audits.InspectorIssueCodeContentSecurityPolicyIssue {
				continue
			}
			text := "CSP issue"
			if d := ev.Issue.Details; d != nil && d.ContentSecurityPolicyIssueDetails != nil {
				c := d.ContentSecurityPolicyIssueDetails
				text = fmt.Sprintf("CSP issue: %s blocked %q (%s)", c.ViolatedDirective, c.BlockedURL, c.ContentSecurityPolicyViolationType)
			}
			p.mu.Lock()
			p.csp = append(p.csp, text)
			p.mu.Unlock()
		}
	}()
	return p
}

// CSPViolations lists the Content-Security-Policy violations seen so far.
func (p *Page) CSPViolations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.csp...)
}

// Messages lists every console message, exception and log entry seen so far.
func (p *Page) Messages() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.messages...)
}

// Exceptions lists the uncaught exceptions seen so far.
func (p *Page) Exceptions() []string {
	var out []string
	for _, m := range p.Messages() {
		if strings.HasPrefix(m, string(chromedp.ConsoleException)+":") {
			out = append(out, m)
		}
	}
	return out
}

// Settle waits briefly for events already sent by the browser to arrive,
// before a test reads what the page reported.
func Settle() { time.Sleep(300 * time.Millisecond) }
