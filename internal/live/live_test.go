package live_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/live"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// wait bounds how long a test waits for something that should happen; it
// is not a timing assertion, only a guard against hanging.
const wait = 20 * time.Second

type setup struct {
	t    *testing.T
	pool *pgxpool.Pool
	hub  *live.Hub
	stop context.CancelFunc
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	pool := testdb.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	hub, err := live.StartWith(ctx, pool.Config().ConnConfig, nil, live.Options{Debounce: 10 * time.Millisecond, MinBackoff: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		<-hub.Done()
	})
	return &setup{t: t, pool: pool, hub: hub, stop: cancel}
}

// notify commits one notification.
func (s *setup) notify(payload any) {
	s.t.Helper()
	b, err := json.Marshal(payload)
	require.NoError(s.t, err)
	_, err = s.pool.Exec(s.t.Context(), "SELECT pg_notify($1, $2)", inventory.NotifyChannel, string(b))
	require.NoError(s.t, err)
}

// counter is a Renderer that draws its call count as one whole frame and
// remembers what it was asked.
type counter struct {
	name  string
	calls atomic.Int64
	mu    sync.Mutex
	draws []live.Draw
}

func (c *counter) render(_ context.Context, d live.Draw) (live.Frame, error) {
	n := c.calls.Add(1)
	c.mu.Lock()
	c.draws = append(c.draws, d)
	c.mu.Unlock()
	return live.Frame{Whole: true, Events: []live.Event{{Name: c.name, Data: fmt.Appendf(nil, "%s %d", c.name, n)}}}, nil
}

func (c *counter) lastDraw() live.Draw {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draws[len(c.draws)-1]
}

// next waits for the subscription's next frames.
func next(t *testing.T, sub *live.Subscription) []*live.Frame {
	t.Helper()
	select {
	case <-sub.Ready():
		frames, _ := sub.Next()
		return frames
	case <-time.After(wait):
		t.Fatal("no frame arrived")
		return nil
	}
}

func data(frames []*live.Frame) string {
	f := frames[len(frames)-1]
	return string(f.Events[len(f.Events)-1].Data)
}

func TestFanOutByTopic(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	req := &counter{name: "request"}
	other := &counter{name: "other"}
	a := s.hub.Subscribe(live.RequestTopic(7), req.render)
	defer a.Close()
	b := s.hub.Subscribe(live.RequestTopic(7), req.render)
	defer b.Close()
	c := s.hub.Subscribe(live.RequestTopic(8), other.render)
	defer c.Close()

	// The first subscriber's arrival draws the topic; the second may see
	// that draw too (it arrived before or after it was published).
	require.Equal(t, "request 1", data(next(t, a)))
	require.Equal(t, "request 1", data(next(t, b)))
	require.Equal(t, "other 1", data(next(t, c)))

	s.notify(map[string]any{"type": "request", "id": 7, "state": "approved", "cluster_uid": "u-1"})
	require.Equal(t, "request 2", data(next(t, a)))
	require.Equal(t, "request 2", data(next(t, b)))
	require.Equal(t, []live.Notification{{Type: "request", ID: 7, State: "approved", ClusterUID: "u-1"}}, req.lastDraw().Changes)

	// A progress notification of request 8 reaches only its topic; topic 7
	// was drawn once for its one notification, however many subscribers.
	s.notify(map[string]any{"type": "progress", "request_id": 8, "cluster_uid": "u-2", "current_stage": 1, "total_stages": 3})
	require.Equal(t, "other 2", data(next(t, c)))
	require.EqualValues(t, 2, req.calls.Load())
	select {
	case <-a.Ready():
		t.Fatalf("topic 7 got a frame for request 8: %v", a)
	default:
	}
}

func TestLateSubscriberStartsFromTheLastFrameWithoutADraw(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	r := &counter{name: "cluster"}
	a := s.hub.Subscribe(live.ClusterTopic("u-1"), r.render)
	defer a.Close()
	require.Equal(t, "cluster 1", data(next(t, a)))
	b := s.hub.Subscribe(live.ClusterTopic("u-1"), r.render)
	defer b.Close()
	require.Equal(t, "cluster 1", data(next(t, b)))
	require.EqualValues(t, 1, r.calls.Load())
}

func TestSlowSubscriberDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	var n atomic.Int64
	// A topic drawn in deltas (not whole), like the cluster list.
	delta := func(_ context.Context, d live.Draw) (live.Frame, error) {
		if d.Changes == nil && !d.CatchUp {
			return live.Frame{}, nil
		}
		return live.Frame{Events: []live.Event{{Name: "rows", Data: fmt.Appendf(nil, "%d", n.Add(1))}}}, nil
	}
	slow := s.hub.Subscribe(live.ClustersTopic, delta)
	defer slow.Close()
	fast := s.hub.Subscribe(live.ClustersTopic, delta)
	defer fast.Close()

	// The slow one never reads; the fast one sees every frame in turn.
	const changes = 40 // more than the default queue of 16
	for i := range changes {
		s.notify(map[string]any{"type": "cluster", "uid": fmt.Sprintf("u-%d", i), "state": "STARTED"})
		got := next(t, fast)
		require.Equal(t, fmt.Sprint(i+1), data(got))
	}
	frames, refresh := slow.Next()
	require.Empty(t, frames, "the overflowing queue was dropped")
	require.True(t, refresh, "the slow subscriber must reload its view")
	require.EqualValues(t, 1, s.hub.Stats().Stale)
}

func TestWholeFramesCoalesceForASlowSubscriber(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	r := &counter{name: "request"}
	slow := s.hub.Subscribe(live.RequestTopic(1), r.render)
	defer slow.Close()
	fast := s.hub.Subscribe(live.RequestTopic(1), r.render)
	defer fast.Close()
	next(t, fast)
	for i := range 5 {
		s.notify(map[string]any{"type": "request", "id": 1, "state": "pending"})
		require.Equal(t, fmt.Sprintf("request %d", i+2), data(next(t, fast)))
	}
	// The slow subscriber took nothing meanwhile: only the newest whole
	// frame waits for it. The fan-out of the last change may still be on
	// its way to it, so it may take "request 5" first, then "request 6".
	var took []string
	require.Eventually(t, func() bool {
		select {
		case <-slow.Ready():
			frames, refresh := slow.Next()
			require.False(t, refresh)
			require.Len(t, frames, 1, "only the latest whole frame waits")
			took = append(took, data(frames))
		default:
		}
		return len(took) > 0 && took[len(took)-1] == "request 6"
	}, 5*time.Second, time.Millisecond)
	require.LessOrEqual(t, len(took), 2, "frames coalesced: %v", took)
}

func TestReconnectCatchesUp(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	r := &counter{name: "request"}
	sub := s.hub.Subscribe(live.RequestTopic(3), r.render)
	defer sub.Close()
	next(t, sub)

	pid := s.hub.ListenerPID()
	require.NotZero(t, pid)
	var killed bool
	require.NoError(t, s.pool.QueryRow(t.Context(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&killed))
	require.True(t, killed)

	frames := next(t, sub)
	require.Equal(t, "request 2", data(frames))
	require.True(t, r.lastDraw().CatchUp, "a reconnect draws every topic as a catch-up")
	require.NotEqual(t, pid, s.hub.ListenerPID())
	require.EqualValues(t, 1, s.hub.Stats().Reconnects)

	// Notifications flow on the new connection.
	s.notify(map[string]any{"type": "request", "id": 3, "state": "approved"})
	require.Equal(t, "request 3", data(next(t, sub)))
}

func TestOneListeningConnectionHoweverManySubscribers(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	r := &counter{name: "cluster"}
	for i := range 200 {
		sub := s.hub.Subscribe(live.ClusterTopic(fmt.Sprint(i%5)), r.render)
		defer sub.Close()
	}
	var listeners int
	require.NoError(t, s.pool.QueryRow(t.Context(), `
		SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, live.ApplicationName).Scan(&listeners))
	require.Equal(t, 1, listeners)
	st := s.hub.Stats()
	require.Equal(t, 200, st.Subscribers)
	require.Equal(t, 5, st.Topics)
}

func TestStopEndsTheHub(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	r := &counter{name: "x"}
	sub := s.hub.Subscribe(live.DashboardTopic, r.render)
	defer sub.Close()
	s.stop()
	select {
	case <-s.hub.Done():
	case <-time.After(wait):
		t.Fatal("the hub did not stop")
	}
	var listeners int
	require.Eventually(t, func() bool {
		require.NoError(t, s.pool.QueryRow(t.Context(), `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1`, live.ApplicationName).Scan(&listeners))
		return listeners == 0
	}, wait, 20*time.Millisecond, "the listening connection is closed")
}

func TestEncode(t *testing.T) {
	t.Parallel()
	got := live.Encode(42, []live.Event{{Name: "a", Data: []byte("<p>\n x</p>")}, {Name: "b", Data: nil}})
	require.Equal(t, "event: a\ndata: <p>\ndata:  x</p>\n\nid: 42\nevent: b\ndata: \n\n", string(got))
}

func TestNotificationTopics(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		payload string
		want    []string
	}{
		{`{"type":"request","id":5,"state":"pending","revision":1,"cluster_uid":"c1"}`, []string{"request:5", "cluster:c1", "clusters", "dashboard"}},
		{`{"type":"request","id":6,"state":"pending","revision":1}`, []string{"request:6", "clusters", "dashboard"}},
		{`{"type":"cluster","change":"changed","uid":"c1","name":"n","state":"STOPPED"}`, []string{"cluster:c1", "clusters"}},
		{`{"type":"progress","request_id":5,"cluster_uid":"c1","total_stages":3,"current_stage":1}`, []string{"request:5", "cluster:c1"}},
	} {
		var n live.Notification
		require.NoError(t, json.Unmarshal([]byte(tc.payload), &n))
		require.Equal(t, tc.want, n.Topics(), tc.payload)
	}
}
