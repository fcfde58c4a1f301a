// Package live turns the PostgreSQL notifications on the "clusterdesk"
// channel into updates for the browsers watching a page: one LISTEN
// connection per process, fanned out to every subscriber.
//
// Subscribers watch a topic (RequestTopic, ClusterTopic, ClustersTopic,
// DashboardTopic). Each topic with at least one subscriber has one
// Renderer, which the hub calls once per burst of notifications (debounced)
// and whose Frame it shares, encoded once, with every subscriber of the
// topic: the number of database queries depends on the changes, not on the
// number of viewers.
//
// A subscriber never blocks the hub or other subscribers: frames wait in a
// small per-subscriber queue. A frame that draws the whole state of its
// topic replaces whatever waits; a queue that overflows is emptied and the
// subscriber marked stale, so it catches up from the topic's last whole
// frame or reloads its own view. After the listening connection drops the
// hub reconnects with backoff and asks every topic for a catch-up draw,
// since notifications sent in between are lost.
package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// ApplicationName names the listening connection in pg_stat_activity.
const ApplicationName = "clusterdesk-live"

// The topics a page can watch.
const (
	// ClustersTopic is the cluster list: every cluster change and every
	// change of a request's state (the list counts open requests).
	ClustersTopic = "clusters"
	// DashboardTopic is the start page: every change of a request.
	DashboardTopic = "dashboard"
)

// RequestTopic is the page of change request id.
func RequestTopic(id int64) string { return "request:" + strconv.FormatInt(id, 10) }

// ClusterTopic is the page of cluster uid.
func ClusterTopic(uid string) string { return "cluster:" + uid }

// Notification is one payload on inventory.NotifyChannel. It carries the
// fields of the three kinds that exist: "request"
// (approvals.RequestNotification), "cluster" (inventory.Notification) and
// "progress" (execution.ProgressNotification).
type Notification struct {
	Type         string `json:"type"`
	ID           int64  `json:"id"`
	RequestID    int64  `json:"request_id"`
	UID          string `json:"uid"`
	ClusterUID   string `json:"cluster_uid"`
	State        string `json:"state"`
	ClusterState string `json:"cluster_state"`
	// Change is a cluster's: created, updated or deleted.
	Change string `json:"change"`
}

// Request is the id of the change request n is about; 0 if none.
func (n Notification) Request() int64 {
	if n.Type == "request" {
		return n.ID
	}
	return n.RequestID
}

// Cluster is the uid of the cluster n is about; empty if none.
func (n Notification) Cluster() string {
	if n.Type == "cluster" {
		return n.UID
	}
	return n.ClusterUID
}

// Topics are the topics n concerns.
func (n Notification) Topics() []string {
	var topics []string
	if id := n.Request(); id > 0 {
		topics = append(topics, RequestTopic(id))
	}
	if uid := n.Cluster(); uid != "" {
		topics = append(topics, ClusterTopic(uid))
	}
	switch n.Type {
	case "request":
		topics = append(topics, ClustersTopic, DashboardTopic)
	case "cluster":
		topics = append(topics, ClustersTopic)
	}
	return topics
}

// Event is one server-sent event: Name is what the page's sse-swap listens
// for, Data the HTML it swaps in.
type Event struct {
	Name string
	Data []byte
}

// Frame is what a Renderer drew for a topic.
type Frame struct {
	Events []Event
	// Whole says the events draw the topic's whole state: a later frame
	// supersedes this one, and a subscriber arriving late starts from it.
	Whole bool
	// Key sums up the state that each viewer's own parts of the page
	// depend on (for a request: its state and revision); a subscriber seeing
	// it change reloads those parts.
	Key string
	// Refresh asks every viewer to reload its own view of the topic (a
	// catch-up of a topic that is not drawn whole).
	Refresh bool

	// Seq numbers the frames of a hub (the SSE id); Bytes are the events
	// encoded as text/event-stream, shared by all subscribers.
	Seq   uint64
	Bytes []byte
}

// Draw says why a Renderer is called.
type Draw struct {
	// Changes are the notifications since the last draw; nil for the
	// first draw of a topic.
	Changes []Notification
	// CatchUp is set when notifications may have been lost (the listener
	// reconnected): draw everything.
	CatchUp bool
}

// Renderer draws a topic. It runs on the hub's goroutine for that topic,
// with the hub's context, never a viewer's: what it draws must not depend
// on who watches.
type Renderer func(ctx context.Context, d Draw) (Frame, error)

// Options tune a hub; the zero value is what production uses.
type Options struct {
	// Debounce is how long a topic collects notifications before it is
	// drawn; default 100 ms.
	Debounce time.Duration
	// Queue is how many frames wait for one subscriber before it is
	// marked stale; default 16.
	Queue int
	// MinBackoff and MaxBackoff bound the wait before reconnecting;
	// defaults 250 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// Ping is how long the listener waits for a notification before it
	// checks the connection; default 30 s.
	Ping time.Duration
	// Heartbeat is how often an idle stream sends a comment, keeping it
	// open through proxies and noticing a browser that left; default 15 s.
	Heartbeat time.Duration
	// MaxAge ends a stream after a while, so that the browser reconnects
	// through the sign-in check (which re-reads roles); default 10 min. The
	// end of the viewer's session ends a stream sooner (the web layer
	// watches it).
	MaxAge time.Duration
}

func (o Options) withDefaults() Options {
	if o.Debounce <= 0 {
		o.Debounce = 100 * time.Millisecond
	}
	if o.Queue <= 0 {
		o.Queue = 16
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.Ping <= 0 {
		o.Ping = 30 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 10 * time.Minute
	}
	return o
}

// Stats are a hub's counters since it started.
type Stats struct {
	Notifications uint64 // received on the channel
	Draws         uint64 // Renderer calls
	Frames        uint64 // frames published
	Stale         uint64 // subscribers whose queue overflowed
	Reconnects    uint64 // listening connections re-established
	Subscribers   int    // now
	Topics        int    // now
}

// Hub listens once per process and fans notifications out to subscribers.
type Hub struct {
	logger *slog.Logger
	opts   Options
	config *pgx.ConnConfig
	ctx    context.Context
	done   chan struct{}

	mu      sync.Mutex
	streams map[string]*stream
	seq     uint64
	pid     uint32 // the listening backend, 0 while disconnected

	notifications, draws, frames, stale, reconnects atomic.Uint64
}

// Start listens on pool's database until ctx ends: it opens a connection
// of its own (not one of the pool's), so the listener neither holds a pool
// slot nor delays pool.Close. The first connection is made before Start
// returns; its error is Start's.
func Start(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (*Hub, error) {
	return StartWith(ctx, pool.Config().ConnConfig, logger, Options{})
}

// StartWith is Start with a connection configuration and options.
func StartWith(ctx context.Context, config *pgx.ConnConfig, logger *slog.Logger, opts Options) (*Hub, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	config = config.Copy()
	if config.RuntimeParams == nil {
		config.RuntimeParams = map[string]string{}
	}
	config.RuntimeParams["application_name"] = ApplicationName
	// A wait that times out (to ping) must not send the server a cancel
	// request that could hit the ping.
	config.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	h := &Hub{
		logger: logger.With("component", "live"), opts: opts.withDefaults(), config: config,
		ctx: ctx, done: make(chan struct{}), streams: map[string]*stream{},
	}
	conn, err := h.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("live: listen: %w", err)
	}
	go h.listen(conn)
	return h, nil
}

// Done is closed when the hub has stopped (its context ended): streams end
// then, so that a graceful shutdown does not wait for them.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Heartbeat and MaxAge are the timings of the streams served from the hub
// (Options).
func (h *Hub) Heartbeat() time.Duration { return h.opts.Heartbeat }

// MaxAge: see Heartbeat.
func (h *Hub) MaxAge() time.Duration { return h.opts.MaxAge }

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Stats{
		Notifications: h.notifications.Load(), Draws: h.draws.Load(), Frames: h.frames.Load(),
		Stale: h.stale.Load(), Reconnects: h.reconnects.Load(), Topics: len(h.streams),
	}
	for _, st := range h.streams {
		s.Subscribers += len(st.subs)
	}
	return s
}

// ListenerPID is the backend process id of the listening connection; 0
// while it is reconnecting.
func (h *Hub) ListenerPID() uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pid
}

func (h *Hub) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, h.config)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{inventory.NotifyChannel}.Sanitize()); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	h.mu.Lock()
	h.pid = conn.PgConn().PID()
	h.mu.Unlock()
	return conn, nil
}

// listen receives notifications until the hub's context ends, reconnecting
// with backoff when the connection fails.
func (h *Hub) listen(conn *pgx.Conn) {
	defer close(h.done)
	ctx := h.ctx
	for {
		err := h.receive(ctx, conn)
		h.mu.Lock()
		h.pid = 0
		h.mu.Unlock()
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		h.logger.Warn("listening connection lost; reconnecting", "err", err)
		if conn = h.reconnect(ctx); conn == nil {
			return
		}
		h.reconnects.Add(1)
		h.logger.Info("listening again; pages catch up")
		h.catchUp()
	}
}

// reconnect connects again, waiting longer after each failure; nil when
// ctx ends first.
func (h *Hub) reconnect(ctx context.Context) *pgx.Conn {
	wait := h.opts.MinBackoff
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		conn, err := h.connect(ctx)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		h.logger.Warn("reconnect failed", "err", err, "retry_in", (2 * wait).String())
		wait = min(2*wait, h.opts.MaxBackoff)
	}
}

// receive hands each notification to dispatch until the connection fails
// or ctx ends. A quiet connection is pinged now and then, so that a dead
// one is noticed.
func (h *Hub) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		waitCtx, cancel := context.WithTimeout(ctx, h.opts.Ping)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			if err := conn.Ping(ctx); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		h.notifications.Add(1)
		var payload Notification
		if err := json.Unmarshal([]byte(n.Payload), &payload); err != nil {
			h.logger.Warn("notification is not JSON", "payload", n.Payload, "err", err)
			continue
		}
		h.dispatch(payload)
	}
}

// maxChanges bounds the notifications a topic keeps between two draws;
// beyond it the topic is drawn as a catch-up.
const maxChanges = 1000

// dispatch marks each watched topic of n for a draw.
func (h *Hub) dispatch(n Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, topic := range n.Topics() {
		st := h.streams[topic]
		if st == nil {
			continue
		}
		if len(st.changes) < maxChanges {
			st.changes = append(st.changes, n)
		} else {
			st.catchUp = true
		}
		st.poke()
	}
}

// catchUp asks every topic for a full draw.
func (h *Hub) catchUp() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range h.streams {
		st.catchUp = true
		st.poke()
	}
}

// Subscribe watches topic. render draws it; the first subscriber's
// Renderer serves the topic for as long as anyone watches it. The topic's
// last whole frame, if any, waits in the subscription already; otherwise
// the first subscriber's arrival draws the topic. Close the subscription
// when done.
func (h *Hub) Subscribe(topic string, render Renderer) *Subscription {
	sub := &Subscription{hub: h, topic: topic, ready: make(chan struct{}, 1), max: h.opts.Queue}
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.streams[topic]
	if st == nil {
		st = &stream{topic: topic, render: render, subs: map[*Subscription]struct{}{},
			dirty: make(chan struct{}, 1), stop: make(chan struct{})}
		h.streams[topic] = st
		st.poke()
		go h.run(st)
	}
	st.subs[sub] = struct{}{}
	sub.stream = st
	if st.last != nil {
		sub.offer(st.last, &h.stale)
	}
	return sub
}

// stream is one watched topic.
type stream struct {
	topic  string
	render Renderer
	// Guarded by Hub.mu.
	subs    map[*Subscription]struct{}
	changes []Notification
	catchUp bool
	last    *Frame // the last whole frame
	dirty   chan struct{}
	stop    chan struct{}
}

func (st *stream) poke() {
	select {
	case st.dirty <- struct{}{}:
	default:
	}
}

// run draws st each time it is poked, after the debounce (the first draw
// at once), until its last subscriber leaves or the hub stops.
func (h *Hub) run(st *stream) {
	first := true
	for {
		select {
		case <-st.stop:
			return
		case <-h.ctx.Done():
			return
		case <-st.dirty:
		}
		if !first {
			select {
			case <-st.stop:
				return
			case <-h.ctx.Done():
				return
			case <-time.After(h.opts.Debounce):
			}
		}
		first = false
		h.mu.Lock()
		d := Draw{Changes: st.changes, CatchUp: st.catchUp}
		st.changes, st.catchUp = nil, false
		h.mu.Unlock()
		if d.Changes == nil && !d.CatchUp && st.last != nil {
			continue // a stray poke
		}
		ctx, cancel := context.WithTimeout(h.ctx, 15*time.Second)
		f, err := st.render(ctx, d)
		cancel()
		h.draws.Add(1)
		if err != nil {
			if h.ctx.Err() == nil {
				h.logger.Error("draw", "topic", st.topic, "err", err)
			}
			continue
		}
		if len(f.Events) == 0 && !f.Refresh && f.Key == "" {
			continue
		}
		h.publish(st, f)
	}
}

// publish numbers and encodes f and offers it to st's subscribers.
func (h *Hub) publish(st *stream, f Frame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	f.Seq = h.seq
	f.Bytes = Encode(f.Seq, f.Events)
	h.frames.Add(1)
	if f.Whole {
		st.last = &f
	}
	for sub := range st.subs {
		sub.offer(&f, &h.stale)
	}
}

// Encode writes events as text/event-stream, each line of data on a data:
// line, the last event carrying id seq.
func Encode(seq uint64, events []Event) []byte {
	var b []byte
	for i, e := range events {
		if i == len(events)-1 {
			b = append(b, "id: "...)
			b = strconv.AppendUint(b, seq, 10)
			b = append(b, '\n')
		}
		b = append(b, "event: "...)
		b = append(b, e.Name...)
		b = append(b, '\n')
		start := 0
		for j := 0; j <= len(e.Data); j++ {
			if j == len(e.Data) || e.Data[j] == '\n' {
				line := e.Data[start:j]
				if n := len(line); n > 0 && line[n-1] == '\r' {
					line = line[:n-1]
				}
				b = append(b, "data: "...)
				b = append(b, line...)
				b = append(b, '\n')
				start = j + 1
			}
		}
		b = append(b, '\n')
	}
	return b
}

// Subscription is one viewer of a topic.
type Subscription struct {
	hub    *Hub
	topic  string
	stream *stream
	ready  chan struct{}
	max    int

	mu    sync.Mutex
	queue []*Frame
	stale bool
}

// offer queues f without ever blocking: a whole frame replaces what waits,
// and an overflowing queue is dropped and the subscriber marked stale.
func (s *Subscription) offer(f *Frame, staleCount *atomic.Uint64) {
	s.mu.Lock()
	switch {
	case f.Whole:
		s.queue = append(s.queue[:0], f)
	case len(s.queue) >= s.max:
		s.queue = s.queue[:0]
		if !s.stale {
			staleCount.Add(1)
		}
		s.stale = true
	default:
		s.queue = append(s.queue, f)
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Ready receives when frames wait.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Next takes the frames that wait. A stale subscriber gets the topic's
// last whole frame when there is one, and refresh=true otherwise: it must
// reload its view.
func (s *Subscription) Next() (frames []*Frame, refresh bool) {
	s.mu.Lock()
	frames, s.queue = s.queue, nil
	stale := s.stale
	s.stale = false
	s.mu.Unlock()
	if !stale {
		return frames, false
	}
	s.hub.mu.Lock()
	last := s.stream.last
	s.hub.mu.Unlock()
	if last != nil {
		return []*Frame{last}, false
	}
	return nil, true
}

// Close ends the subscription; the topic stops being drawn when its last
// subscriber leaves.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	st := s.stream
	delete(st.subs, s)
	if len(st.subs) == 0 && h.streams[s.topic] == st {
		delete(h.streams, s.topic)
		close(st.stop)
	}
}
