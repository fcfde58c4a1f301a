package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/notify"
	"github.com/clusterdesk/clusterdesk/internal/notify/notifytest"
)

// TestBrowserNotificationsJourney drives the real program with a real
// Mailpit (the one portal dev runs, built from the version go.mod pins), a
// chat receiver and a webhook receiver, at a laptop's and a phone's size:
// alice files a restart; carol's Approvals badge counts it without a
// reload; carol's mailbox, read through Mailpit's API, holds one message
// naming the cluster and the change, whose link opens the request; carol
// approves; alice's mailbox holds "approved", then "done" once the restart
// converged; the chat receiver got each in Slack's payload shape; the
// webhook receiver verified every signature with its own verifier. The
// pages with badges, the preferences and the admins' page pass axe and do
// not scroll sideways.
func TestBrowserNotificationsJourney(t *testing.T) {
	t.Parallel()
	mail := startTestMailpit(t)
	chat := notifytest.NewReceiver(t, "", 0)
	secret := notify.NewSecret()
	hooks := notifytest.NewReceiver(t, secret, 0)
	j := newLiveJourneyWith(t, map[string]string{
		"PORTAL_SMTP_HOST": "127.0.0.1", "PORTAL_SMTP_PORT": strconv.Itoa(mail.smtpPort), "PORTAL_SMTP_TLS": "none",
		"PORTAL_NOTIFY_CHAT_WEBHOOKS": chat.URL + "/services/T0/B0/token",
		"PORTAL_NOTIFY_WEBHOOK_URL":   hooks.URL + "/clusterdesk", "PORTAL_NOTIFY_WEBHOOK_SECRET": secret,
	})
	staging, err := inventory.ClusterByName(t.Context(), j.pool, "analytics-staging")
	require.NoError(t, err)
	require.Len(t, staging, 1)

	for _, size := range []browsertest.Size{browsertest.Desktop, browsertest.Mobile} {
		t.Run(size.Name, func(t *testing.T) {
			j.t = t
			carol := browsertest.New(t)
			watched := browsertest.Watch(t, carol)
			require.NoError(t, browsertest.Resize(carol, size))
			j.signInAt(carol, "/", "carol")
			waitJS(t, carol, `document.querySelector('[data-testid="nav-approvals"]') !== null`)
			// The run before approved its request: nothing waits.
			const before = 0
			j.noError(carol, step(carol, chromedp.SetAttributeValue(chromedp.CSS(`body`), "data-not-reloaded", "yes")))
			waitJS(t, carol, navCountIs("nav-approvals-count-value", before))

			alice := j.newTab(carol, chromedp.WithNewBrowserContext())
			require.NoError(t, browsertest.Resize(alice, size))
			j.signInAt(alice, "/clusters/"+staging[0].UID+"/requests/new?kind=restart_server", "alice")
			fileRestart(t, j, alice, "notifications journey "+size.Name)
			where, err := chromedp.Run(alice, chromedp.Location())
			require.NoError(t, err)
			path := strings.TrimPrefix(where, j.base)
			id, err := strconv.ParseInt(strings.TrimPrefix(path, "/requests/"), 10, 64)
			require.NoError(t, err)
			tag := fmt.Sprintf("Request #%d ", id)

			// Carol's badge counts it, live.
			waitJS(t, carol, navCountIs("nav-approvals-count-value", before+1))
			kept, err := chromedp.Run(carol, chromedp.Evaluate[string](`document.body.dataset.notReloaded || ""`))
			require.NoError(t, err)
			require.Equal(t, "yes", kept, "carol's page must not have been reloaded")
			checkPage(t, carol, size, "a page with the menu's counts")

			// One email to carol, naming the cluster and the change, whose
			// link opens the request.
			msgs := mail.waitFor(t, "carol@example.com", tag, 1)
			require.Len(t, msgs, 1)
			require.Contains(t, msgs[0].Subject, "analytics-staging")
			require.Contains(t, msgs[0].Subject, "restart a server")
			text := mail.text(t, msgs[0].ID)
			require.Contains(t, text, "Restarts server")
			link := regexp.MustCompile(`https?://\S+/requests/[0-9]+`).FindString(text)
			require.Equal(t, j.base+path, link)
			j.noError(carol, step(carol,
				chromedp.Navigate(link),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
			))
			require.NoError(t, approve(carol))

			// Alice is told it was approved, then that it is done.
			got := mail.waitFor(t, "alice@example.com", tag, 2)
			require.Contains(t, got[0].Subject, "approved")
			require.Contains(t, got[1].Subject, "done")
			toCarol := mail.waitFor(t, "carol@example.com", tag, 2)
			require.Len(t, toCarol, 2, "carol approved it: done is the only other one, and it comes once")
			require.Contains(t, toCarol[1].Subject, "done")

			// Chat got the same, in Slack's shape.
			_, bodies := chat.Requests()
			var texts []string
			for _, b := range bodies {
				var p map[string]any
				require.NoError(t, json.Unmarshal(b, &p))
				require.Len(t, p, 1, "only text: the payload Slack and Mattermost both take")
				if s, _ := p["text"].(string); strings.Contains(s, fmt.Sprintf("#%d ", id)) {
					texts = append(texts, s)
				}
			}
			require.GreaterOrEqual(t, len(texts), 3, "waiting, approved and done: %q", texts)
			require.Contains(t, strings.Join(texts, "\n"), j.base+path)

			// Every webhook carried a signature the receiver verified.
			calls, verified, accepted := hooks.Counts()
			require.Positive(t, calls)
			require.Equal(t, calls, verified)
			require.Equal(t, calls, accepted)

			// The preferences page and the admins' page.
			j.noError(carol, step(carol, chromedp.Navigate(j.base+notify.PreferencesPath),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="preferences-save"]`))))
			checkPage(t, carol, size, "the notification preferences")
			dave := j.newTab(carol, chromedp.WithNewBrowserContext())
			require.NoError(t, browsertest.Resize(dave, size))
			j.signInAt(dave, "/admin/notifications", "dave")
			j.noError(dave, step(dave, chromedp.WaitVisible(chromedp.CSS(`[data-testid="deliveries"]`))))
			checkPage(t, dave, size, "the admins' notifications page")

			browsertest.Settle()
			assert.Empty(t, watched.CSPViolations(), "all messages: %q", watched.Messages())
			assert.Empty(t, watched.Exceptions())
		})
	}
}

// navCountIs is a condition: the badge testid shows n (no badge for 0).
func navCountIs(testid string, n int) string {
	if n == 0 {
		return `document.querySelector('[data-testid="` + testid + `"]') === null && document.querySelector('#nav-approvals-count') !== null`
	}
	return `(document.querySelector('[data-testid="` + testid + `"]')?.firstChild?.textContent ?? "") === "` + strconv.Itoa(n) + `"`
}

func waitJS(t *testing.T, tab context.Context, cond string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
	}
	text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('header') ? document.querySelector('header').innerHTML : ""`))
	t.Fatalf("timed out waiting for %s; header: %s", cond, text)
}

// testMailpit is a real Mailpit for one test, started as portal dev starts
// it, read through its HTTP API.
type testMailpit struct {
	web      string
	smtpPort int
}

func startTestMailpit(t *testing.T) *testMailpit {
	t.Helper()
	dir := t.TempDir()
	// go build from the module: the version go.mod pins, fast once cached.
	build := exec.CommandContext(t.Context(), "go", "build", "-o", filepath.Join(dir, "bin", "mailpit"), mailpitModule)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build Mailpit: %s", out)
	smtpAddr, webAddr := freeAddr(t), freeAddr(t)
	stop, err := startMailpit(t.Context(), dir, smtpAddr, webAddr, &strings.Builder{}, &strings.Builder{})
	require.NoError(t, err)
	t.Cleanup(stop)
	_, port, _ := net.SplitHostPort(smtpAddr)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return &testMailpit{web: "http://" + webAddr, smtpPort: p}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

type mailpitMessage struct {
	ID      string
	Subject string
	Created time.Time
	To      []struct{ Address string }
}

// messages lists the messages to address whose subject contains tag,
// oldest first.
func (m *testMailpit) messages(t *testing.T, address, tag string) []mailpitMessage {
	t.Helper()
	resp, err := http.Get(m.web + "/api/v1/search?query=" + url.QueryEscape(`to:"`+address+`"`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct{ Messages []mailpitMessage }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	var out []mailpitMessage
	for i := len(list.Messages) - 1; i >= 0; i-- { // Mailpit lists newest first
		if strings.Contains(list.Messages[i].Subject, tag) {
			out = append(out, list.Messages[i])
		}
	}
	return out
}

// waitFor waits until address has at least n messages tagged tag, then
// a little for a wrong extra one, and returns them.
func (m *testMailpit) waitFor(t *testing.T, address, tag string, n int) []mailpitMessage {
	t.Helper()
	var got []mailpitMessage
	require.Eventually(t, func() bool {
		got = m.messages(t, address, tag)
		return len(got) >= n
	}, 60*time.Second, 100*time.Millisecond, "%d messages to %s about %q", n, address, tag)
	return got
}

// text is a message's plain-text part.
func (m *testMailpit) text(t *testing.T, id string) string {
	t.Helper()
	resp, err := http.Get(m.web + "/api/v1/message/" + url.PathEscape(id))
	require.NoError(t, err)
	defer resp.Body.Close()
	var msg struct{ Text string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&msg))
	return msg.Text
}
