package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/browsertest"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/live"
)

// liveJourney is the real program (serve with its worker) against a
// simulator whose stages last long enough for the tracking job to see a
// change under way, and the database it uses.
type liveJourney struct {
	t    *testing.T
	base string
	pool *pgxpool.Pool
	uid  string // clickstream-dev, a development cluster (one approval)
	name string
}

func newLiveJourney(t *testing.T) *liveJourney { return newLiveJourneyWith(t, nil) }

// newLiveJourneyWith is newLiveJourney with more PORTAL_* variables.
func newLiveJourneyWith(t *testing.T, more map[string]string) *liveJourney {
	t.Helper()
	vars, _ := testEnvSim(t)
	maps.Copy(vars, more)
	// The same environment with a slower simulator.
	s, err := sim.New(sim.Config{ClientID: "sa", ClientSecret: "sa-secret", StageDuration: 3 * time.Second, SeedDemo: true})
	require.NoError(t, err)
	api := httptest.NewServer(s)
	t.Cleanup(func() { api.Close(); _ = s.Close() })
	vars["PORTAL_CLOUD_API_URL"], vars["PORTAL_CLOUD_TOKEN_URL"] = s.APIURL(api.URL), s.TokenURL(api.URL)
	// Read the cluster often enough to see each 3 s stage.
	vars["PORTAL_TRACK_INTERVAL"] = "500ms"

	base, _ := start(t, []string{"serve"}, vars)
	pool, err := database.Open(t.Context(), vars["PORTAL_DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	j := &liveJourney{t: t, base: base, pool: pool, name: "clickstream-dev"}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		list, err := inventory.ClusterByName(t.Context(), pool, j.name)
		require.NoError(c, err)
		require.Len(c, list, 1)
		j.uid = list[0].UID
	}, 30*time.Second, 100*time.Millisecond, "the worker's first sync copies the demo clusters")
	return j
}

// step brings the tab to the front (a hidden tab gets no animation frames,
// which waiting for an element needs) and runs browser actions with a
// bound, so that a stuck step fails quickly with its own error.
func step(ctx context.Context, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.BringToFront, cdp.Empty{}); err != nil {
		return err
	}
	return chromedp.Do(ctx, actions...)
}

// approve clicks the approve button in tab and waits until the page lists
// one decision more. A live part of the page may swap the button between
// finding it and clicking it (CDP: "could not find node"): then, unless the
// decision went through anyway, it clicks again.
func approve(tab context.Context) error {
	decisions := func() (int, error) {
		ctx, cancel := context.WithTimeout(tab, 5*time.Second)
		defer cancel()
		return chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="decision"]').length`))
	}
	before, err := decisions()
	if err != nil {
		return err
	}
	for try := 1; ; try++ {
		err := step(tab, chromedp.Click(chromedp.CSS(`[data-testid="approve-button"]`)))
		if err == nil {
			break
		}
		if now, nerr := decisions(); nerr == nil && now > before {
			break // the click went through before the error
		}
		if try == 5 || !strings.Contains(strings.ToLower(err.Error()), "node") {
			return err
		}
	}
	return decisionsShown(tab, before+1)
}

// decisionsShown waits until the page in tab lists at least n decisions,
// across the navigation a decision's form makes.
func decisionsShown(tab context.Context, n int) error {
	deadline := time.Now().Add(45 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(tab, 5*time.Second)
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="decision"]').length`))
		cancel()
		if err == nil && shown >= n {
			return step(tab, chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"]`)))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the page never listed %d decisions (last: %d, %v)", n, shown, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// newTab opens a tab beside parent's. Its target is made here, under the
// tab's own context: a target made under a step's timeout would go with it.
func (j *liveJourney) newTab(parent context.Context, opts ...chromedp.ContextOption) context.Context {
	j.t.Helper()
	tab, cancel := chromedp.NewContext(parent, opts...)
	j.t.Cleanup(cancel)
	_, err := chromedp.Call(tab, runtime.RunIfWaitingForDebugger, cdp.Empty{})
	require.NoError(j.t, err)
	return tab
}

// signInAt opens path in tab and signs in as username at the provider's
// picker on the way.
func (j *liveJourney) signInAt(tab context.Context, path, username string) {
	j.t.Helper()
	j.noError(tab, step(tab,
		chromedp.Navigate(j.base+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-`+username+`"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="user-`+username+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-user"]`)),
	))
}

// noError fails the test on err, with where the tab is and what it shows.
func (j *liveJourney) noError(tab context.Context, err error) {
	j.t.Helper()
	if err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	where, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	j.t.Fatalf("%v at %s showing:\n%s", err, where, text)
}

// watchScript records, in the page itself, what the live updates show:
// each request state, each progress value, the most cluster events. The page is marked so that a
// reload (which would lose the mark) is noticed.
const watchScript = `(() => {
	const seen = window.__seen = {states: [], progress: [], events: 0};
	document.body.dataset.notReloaded = "yes";
	const look = () => {
		const st = document.querySelector('[data-testid="request-state"]');
		if (st && seen.states[seen.states.length - 1] !== st.dataset.state) seen.states.push(st.dataset.state);
		const p = document.querySelector('[data-testid="request-progress"]');
		if (p) { const v = p.value + "/" + p.max; if (seen.progress[seen.progress.length - 1] !== v) seen.progress.push(v); }
		seen.events = Math.max(seen.events, document.querySelectorAll('[data-testid="request-event"]').length);
	};
	look();
	new MutationObserver(look).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
})()`

type seen struct {
	States   []string `json:"states"`
	Progress []string `json:"progress"`
	Events   int      `json:"events"`
}

func (j *liveJourney) watch(tab context.Context) {
	j.t.Helper()
	require.NoError(j.t, step(tab, chromedp.Evaluate[chromedp.Void](watchScript)))
}

func (j *liveJourney) seen(tab context.Context) seen {
	j.t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[seen](`window.__seen`))
	require.NoError(j.t, err)
	kept, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.dataset.notReloaded || ""`))
	require.NoError(j.t, err)
	require.Equal(j.t, "yes", kept, "the page must not have been reloaded")
	return s
}

// TestBrowserLiveJourney: for a start, a restart of one server, a stop and
// a delete of one cluster, alice files the request in the form, bob (and
// carol where two approvals are needed) approve on the request page, and
// alice's request page and cluster list, opened before and never
// reloaded, follow the change to its end.
func TestBrowserLiveJourney(t *testing.T) {
	t.Parallel()
	j := newLiveJourney(t)
	for _, tc := range []struct {
		kind          approvals.Kind
		before, after string // the class of the list's badge
		badge         string // the list's badge at the end
		// applied: the page shows the change being applied (a delete is
		// over as soon as the API accepts it).
		applied bool
	}{
		{approvals.KindStart, "state-off", "state-ok", "Started", true},
		{approvals.KindRestartServer, "state-ok", "state-ok", "Started", true},
		{approvals.KindStop, "state-ok", "state-off", "Stopped", true},
		{approvals.KindDelete, "state-off", "state-gone", "Deleted", false},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			j.t = t
			alice := browsertest.New(t)
			watched := browsertest.Watch(t, alice)
			j.signInAt(alice, "/clusters/"+j.uid+"/requests/new?kind="+string(tc.kind), "alice")

			// The cluster list, in a tab of its own, before anything moves;
			// its body is marked so that a reload would be noticed.
			list := j.newTab(alice)
			badge := `#cluster-state-` + j.uid + ` .state-badge`
			j.noError(list, step(list,
				chromedp.Navigate(j.base+"/clusters"),
				chromedp.WaitVisible(chromedp.CSS(badge+`.`+tc.before)),
				chromedp.SetAttributeValue(chromedp.CSS(`body`), "data-not-reloaded", "yes"),
				mark(badge, "data-drawn-at-load"),
			))

			// Alice files the request in the form.
			actions := []chromedp.Action[chromedp.Void]{
				chromedp.SetValue(chromedp.CSS(`#reason`), "live journey: "+string(tc.kind)),
			}
			if tc.kind == approvals.KindRestartServer {
				actions = append(actions, chromedp.Click(chromedp.CSS(`input[name="instance_id"]`)))
			}
			if n, err := chromedp.Run(alice, chromedp.Evaluate[int](`document.querySelectorAll('#confirm_name').length`)); err == nil && n > 0 {
				actions = append(actions, chromedp.SetValue(chromedp.CSS(`#confirm_name`), j.name))
			}
			actions = append(actions,
				chromedp.Click(chromedp.CSS(`[data-testid="request-submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
			)
			j.noError(alice, step(alice, actions...))
			requestURL, err := chromedp.Run(alice, chromedp.Location())
			require.NoError(t, err)
			require.Contains(t, requestURL, "/requests/")
			path := strings.TrimPrefix(requestURL, j.base)
			j.watch(alice)

			// Bob approves on the request page, in a browser context of his
			// own; carol too while the policy asks for more approvals.
			for _, approver := range []string{"bob", "carol"} {
				tab := j.newTab(alice, chromedp.WithNewBrowserContext())
				j.signInAt(tab, path, approver)
				// Done when the page shows this approval among the
				// decisions: the button can also vanish for a moment while
				// a live part of the page reloads.
				j.noError(tab, approve(tab))
				state, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS(`[data-testid="request-state"]`), "data-state"))
				require.NoError(t, err)
				if state.Value != "pending" {
					break
				}
			}

			// Alice's page follows without a reload: the state moves on, the
			// progress bar and the cluster's events appear, and it ends done.
			j.noError(alice, step(alice,
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="succeeded"]`)),
			))
			// The decision area is the viewer's own: it reloaded itself, and
			// a finished request offers alice no cancel any more.
			j.noError(alice, step(alice, chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="cancel-form"]`))))
			got := j.seen(alice)
			t.Logf("request page saw %+v", got)
			require.Equal(t, "pending", got.States[0])
			require.Equal(t, "succeeded", got.States[len(got.States)-1])
			if tc.applied {
				require.Contains(t, got.States, "applying")
				require.NotEmpty(t, got.Progress, "a progress bar was shown while the change was applied")
				require.Positive(t, got.Events, "the cluster's events arrived")
			}

			// The list, never reloaded, shows the new state.
			// The row was redrawn in place: the badge drawn at load is gone.
			j.noError(list, step(list, chromedp.WaitVisible(chromedp.CSS(badge+`.`+tc.after+`:not([data-drawn-at-load])`))))
			text, err := liveText(list, badge)
			require.NoError(t, err)
			require.Equal(t, tc.badge, text)
			mark, err := chromedp.Run(list, chromedp.AttributeValue(chromedp.CSS(`body`), "data-not-reloaded"))
			require.NoError(t, err)
			require.Equal(t, "yes", mark.Value, "the list must not have been reloaded")

			browsertest.Settle()
			require.Empty(t, watched.CSPViolations(), "all messages: %q", watched.Messages())
			require.Empty(t, watched.Exceptions())
		})
	}
}

// TestBrowserLivePageCatchesUpAfterTheListenerDrops ends the hub's
// listening connection from the server side, changes the request while the
// hub reconnects, and expects the open page to show the change without a
// reload.
func TestBrowserLivePageCatchesUpAfterTheListenerDrops(t *testing.T) {
	t.Parallel()
	j := newLiveJourney(t)
	ctx := t.Context()

	tab := browsertest.New(t)
	watched := browsertest.Watch(t, tab)
	j.signInAt(tab, "/clusters/"+j.uid+"/requests/new?kind=start", "alice")
	require.NoError(t, step(tab,
		chromedp.SetValue(chromedp.CSS(`#reason`), "to be cancelled"),
		chromedp.Click(chromedp.CSS(`[data-testid="request-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="pending"]`)),
	))
	j.watch(tab)
	var id, aliceID int64
	require.NoError(t, j.pool.QueryRow(ctx, `SELECT id, requester_id FROM change_requests ORDER BY id DESC LIMIT 1`).Scan(&id, &aliceID))

	listener := func() int32 {
		var pid int32
		err := j.pool.QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1`, live.ApplicationName).Scan(&pid)
		require.NoError(t, err)
		return pid
	}
	before := listener()
	require.NotZero(t, before, "the portal listens")
	var killed bool
	require.NoError(t, j.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, before).Scan(&killed))
	require.True(t, killed)
	_, err := approvals.New(j.pool, approvals.Config{}).Cancel(ctx,
		approvals.Actor{UserID: aliceID, Name: "Alice Anderson", Origin: audit.Origin{IP: "192.0.2.1"}}, id, "changed my mind")
	require.NoError(t, err)

	require.NoError(t, step(tab,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-state"][data-state="cancelled"]`)),
	))
	got := j.seen(tab)
	require.Equal(t, []string{"pending", "cancelled"}, got.States)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		after := listener()
		require.NotZero(c, after)
		require.NotEqual(c, before, after)
	}, 20*time.Second, 50*time.Millisecond, "the hub listens again on a new connection")
	browsertest.Settle()
	require.Empty(t, watched.CSPViolations(), "all messages: %q", watched.Messages())
}

// TestServeStopsWithOpenStreams: a graceful stop ends the open event
// streams instead of waiting for them until its timeout.
func TestServeStopsWithOpenStreams(t *testing.T) {
	t.Parallel()
	vars := testEnv(t)
	vars["PORTAL_SHUTDOWN_TIMEOUT"] = "20s"
	base, stop := start(t, []string{"serve"}, vars)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Jar: jar}
	resp, err := devidp.Login(t.Context(), hc, base+"/", "alice")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	var streams []*bufio.Reader
	for _, path := range []string{"/events/dashboard", "/clusters/events"} {
		resp, err := hc.Get(base + path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		r := bufio.NewReader(resp.Body)
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "retry: 2000\n", line)
		streams = append(streams, r)
	}
	require.NoError(t, stop(), "the stop finished within its timeout")
	for _, r := range streams {
		_, err := io.ReadAll(r)
		require.NoError(t, err, "the stream ended cleanly")
	}
}
