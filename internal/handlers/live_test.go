package handlers

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/live"
)

// liveFixture is the decide fixture with a live hub of its own; stop ends
// the hub as a shutdown does.
type liveFixture struct {
	*decideFixture
	hub  *live.Hub
	stop context.CancelFunc
}

func newLiveFixture(t *testing.T, opts ...live.Options) *liveFixture {
	t.Helper()
	f := &liveFixture{decideFixture: newDecideFixture(t)}
	ctx, cancel := context.WithCancel(context.Background())
	o := live.Options{Debounce: 10 * time.Millisecond}
	if len(opts) > 0 {
		o = opts[0]
	}
	hub, err := live.StartWith(ctx, f.pool.Config().ConnConfig, nil, o)
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		<-hub.Done()
	})
	f.hub, f.stop = hub, cancel
	// Set before the first request; the handlers read s.deps.
	f.server.deps.Live = hub
	return f
}

// sseEvent is one server-sent event as a browser's EventSource sees it.
type sseEvent struct {
	id, name, data string
}

// sseStream is an open event stream.
type sseStream struct {
	t        *testing.T
	resp     *http.Response
	events   chan sseEvent
	comments chan string
	ended    chan struct{}
	retry    string
}

// open starts an event stream at path as b (no client timeout: streams
// live long).
func (b *browser) open(path string) *sseStream {
	b.env.t.Helper()
	t := b.env.t
	client := &http.Client{Jar: b.jar, Transport: b.follow.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.env.url+path, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	s := &sseStream{t: t, resp: resp, events: make(chan sseEvent, 100), comments: make(chan string, 100), ended: make(chan struct{})}
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		go s.read()
	} else {
		close(s.ended)
	}
	return s
}

// read parses the stream (the text/event-stream format) into events.
func (s *sseStream) read() {
	defer close(s.ended)
	r := bufio.NewReader(s.resp.Body)
	var e sseEvent
	var data []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if e.name != "" || len(data) > 0 {
				e.data = strings.Join(data, "\n")
				s.events <- e
			}
			e, data = sseEvent{}, nil
		case strings.HasPrefix(line, ":"):
			select {
			case s.comments <- line:
			default:
			}
		case strings.HasPrefix(line, "retry: "):
			s.retry = strings.TrimPrefix(line, "retry: ")
		case strings.HasPrefix(line, "id: "):
			e.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			e.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
}

// liveWait only guards against a hang; no test asserts a duration.
const liveWait = 20 * time.Second

// until reads events until one named name whose data contains want.
func (s *sseStream) until(name, want string) sseEvent {
	s.t.Helper()
	deadline := time.After(liveWait)
	for {
		select {
		case e := <-s.events:
			if e.name == name && strings.Contains(e.data, want) {
				return e
			}
		case <-s.ended:
			s.t.Fatalf("the stream ended before an event %q with %q", name, want)
		case <-deadline:
			s.t.Fatalf("no event %q with %q", name, want)
		}
	}
}

func TestLiveRequestStream(t *testing.T) {
	t.Parallel()
	f := newLiveFixture(t)
	alice, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice", approvals.KindStop, "analytics-staging", "save money")

	// The page connects to its stream with the key of the viewer's parts.
	page := alice.get(requestPath(r.ID))
	require.Contains(t, page.body, `hx-ext="sse" sse-connect="/requests/`+itoa(r.ID)+`/events?key=pending.1"`)

	s := alice.open(requestPath(r.ID, "events"))
	require.Equal(t, http.StatusOK, s.resp.StatusCode)
	require.Equal(t, "text/event-stream", s.resp.Header.Get("Content-Type"))
	require.Equal(t, "no-cache", s.resp.Header.Get("Cache-Control"))
	require.Equal(t, "no", s.resp.Header.Get("X-Accel-Buffering"))
	// At once: the current fragments, the state first.
	first := s.until("request-state", "Waiting for approval")
	require.Equal(t, "2000", s.retry)
	require.Contains(t, first.data, `data-testid="request-state"`)
	last := s.until("request-timeline", "filed the request.")
	require.NotEmpty(t, last.id, "the frame's last event carries its id")

	// A committed change arrives without asking: the new state, and a
	// refresh for the decision area since the state changed.
	_, err := f.service.Cancel(t.Context(), approvals.Actor{UserID: aliceID, Name: "Alice", Origin: audit.Origin{IP: "192.0.2.1"}}, r.ID, "not needed")
	require.NoError(t, err)
	s.until("request-state", "Cancelled")
	s.until("refresh", "")
}

func TestLiveClusterStreams(t *testing.T) {
	t.Parallel()
	f := newLiveFixture(t)
	alice, aliceID := f.signedIn("alice")
	uid := f.uid("analytics-staging")

	page := alice.get("/clusters/" + uid)
	key := regexp.MustCompile(`sse-connect="/clusters/` + uid + `/events\?key=([^"]+)"`).FindStringSubmatch(page.body)
	require.NotNil(t, key, "the cluster page connects with the key of its versions")
	require.Contains(t, page.body, `id="cluster-versions-area" hx-get="/clusters/`+uid+`" hx-select="#cluster-versions-area &gt; *" hx-swap="innerHTML" hx-sync="this:replace" hx-trigger="sse:refresh"`)
	list := alice.get("/clusters")
	require.Contains(t, list.body, `sse-connect="/clusters/events"`)

	one := alice.open("/clusters/" + uid + "/events?key=" + key[1])
	all := alice.open("/clusters/events")
	one.until("cluster-state", "Started")
	one.until("cluster-requests", "cluster-requests-empty")

	r := f.file(aliceID, "Alice", approvals.KindStop, "analytics-staging", "weekend shutdown")
	// The cluster page lists the request; the list's row counts it.
	one.until("cluster-requests", "weekend shutdown")
	rows := all.until("clusters", `id="cluster-pending-`+uid+`"`)
	require.Contains(t, rows.data, `hx-swap-oob="innerHTML">1</div>`)
	require.Contains(t, rows.data, `id="cluster-state-`+uid+`"`)
	require.NotZero(t, r.ID)

	// A new version (changed outside): the page's versions section, which
	// depends on the viewer, is told to reload itself.
	_, err := f.client.UpdateCluster(t.Context(), uid, []byte(`{"spec":{"awsKeyPair":"ops"}}`), cloudapi.Force())
	require.NoError(t, err)
	f.sync()
	one.until("refresh", "")
}

func TestLiveDashboardStream(t *testing.T) {
	t.Parallel()
	f := newLiveFixture(t)
	bob, _ := f.signedIn("bob")
	_, aliceID := f.signedIn("alice")
	home := bob.get("/")
	key := regexp.MustCompile(`sse-connect="/events/dashboard\?key=([^"]+)"`).FindStringSubmatch(home.body)
	require.NotNil(t, key, "the start page connects with the key of the viewer's lists")
	require.Contains(t, home.body, `id="home-personal" hx-get="/" hx-select="#home-personal &gt; *" hx-swap="innerHTML" hx-sync="this:replace" hx-trigger="sse:refresh"`)

	s := bob.open("/events/dashboard?key=" + key[1])
	s.until("home-counts", `data-testid="count-pending">0<`)
	f.file(aliceID, "Alice", approvals.KindStop, "analytics-staging", "dashboard change")
	s.until("home-counts", `data-testid="count-pending">1<`)
	s.until("home-recent", "analytics-staging")
	// Bob's own lists (what awaits him) reload themselves.
	s.until("refresh", "")
}

func TestLiveStreamsDrawOncePerChangeForAllViewers(t *testing.T) {
	t.Parallel()
	f := newLiveFixture(t)
	alice, aliceID := f.signedIn("alice")
	uid := f.uid("analytics-staging")
	var streams []*sseStream
	for range 5 {
		s := alice.open("/clusters/" + uid + "/events")
		s.until("cluster-state", "Started")
		streams = append(streams, s)
	}
	before := f.hub.Stats().Draws
	f.file(aliceID, "Alice", approvals.KindStop, "analytics-staging", "one change")
	for _, s := range streams {
		s.until("cluster-requests", "one change")
	}
	require.EqualValues(t, 1, f.hub.Stats().Draws-before, "one draw for five viewers")
}

func TestLiveStreamEndsWhenTheHubStops(t *testing.T) {
	t.Parallel()
	f := newLiveFixture(t)
	alice, _ := f.signedIn("alice")
	s := alice.open("/events/dashboard")
	s.until("home-counts", "count-pending")
	f.stop()
	select {
	case <-s.ended:
	case <-time.After(liveWait):
		t.Fatal("the stream outlived the hub")
	}
	_, err := io.ReadAll(s.resp.Body)
	require.NoError(t, err, "the stream ended cleanly")
}

func TestLiveStreamHeartbeatAndMaxAge(t *testing.T) {
	t.Parallel()
	f := newLiveFixture(t, live.Options{Heartbeat: 20 * time.Millisecond, MaxAge: 2 * time.Second})
	alice, _ := f.signedIn("alice")
	s := alice.open("/clusters/events")
	select {
	case c := <-s.comments:
		require.Equal(t, ": heartbeat", c)
	case <-time.After(liveWait):
		t.Fatal("no heartbeat on an idle stream")
	}
	// The stream ends at its maximum age; the browser would reconnect.
	select {
	case <-s.ended:
	case <-time.After(liveWait):
		t.Fatal("the stream outlived its maximum age")
	}
}

func TestLiveStreamsNeedSignIn(t *testing.T) {
	t.Parallel()
	f := newLiveFixture(t)
	alice, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice", approvals.KindStop, "analytics-staging", "x")
	stranger := f.browser()
	for _, path := range []string{requestPath(r.ID, "events"), "/clusters/" + f.uid("analytics-staging") + "/events", "/clusters/events", "/events/dashboard"} {
		s := stranger.open(path)
		require.NotEqual(t, http.StatusOK, s.resp.StatusCode, path)
		require.NotContains(t, s.resp.Header.Get("Content-Type"), "text/event-stream", path)
	}
	// Unknown pages have no stream either.
	for _, path := range []string{requestPath(999999, "events"), "/clusters/no-such-cluster/events"} {
		s := alice.open(path)
		require.Equal(t, http.StatusNotFound, s.resp.StatusCode, path)
	}
}

func TestLivePagesWithoutAHubHaveNoStream(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice", approvals.KindStop, "analytics-staging", "x")
	for _, path := range []string{requestPath(r.ID), "/clusters", "/clusters/" + f.uid("analytics-staging"), "/"} {
		page := alice.get(path)
		require.Equal(t, http.StatusOK, page.status, path)
		require.NotContains(t, page.body, "sse-connect", path)
	}
	s := alice.open("/events/dashboard")
	require.Equal(t, http.StatusNotFound, s.resp.StatusCode)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestEveryPageHoldsOneStream: a page holds at most one event stream, so
// that tabs do not run out of a browser's six connections per host over
// HTTP/1.1. Pages with a stream of their own reload the menu's counts on
// it; the others keep them live through the start page's stream.
func TestEveryPageHoldsOneStream(t *testing.T) {
	t.Parallel()
	f := newLiveFixture(t)
	carol, _ := f.signedIn("carol")
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice", approvals.KindStop, "analytics-staging", "one stream")
	streams := regexp.MustCompile(`sse-connect="([^"?]+)`)
	for path, want := range map[string]string{
		"/":         "/events/dashboard",
		"/clusters": "/clusters/events",
		"/clusters/" + f.uid("analytics-staging"): "/clusters/" + f.uid("analytics-staging") + "/events",
		requestPath(r.ID):                         requestPath(r.ID, "events"),
		"/approvals":                              "/events/dashboard",
		"/requests":                               "/events/dashboard",
	} {
		body := carol.get(path).body
		found := streams.FindAllStringSubmatch(body, -1)
		require.Len(t, found, 1, "%s holds one stream", path)
		require.Equal(t, want, found[0][1], path)
		require.Contains(t, body, `hx-get="/notifications/counts" hx-trigger="sse:refresh"`, "%s keeps the menu's counts live", path)
	}
}
