package auth

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// AnonymousLimit bounds how many security events of clients nobody is
// signed in as reach a Recorder: per client and kind of event, the first
// Burst in a Window pass one by one, and the rest become one aggregate
// event (Event.Aggregate) when the window has ended. The zero value means
// 5 a minute for at most 10,000 clients at once.
type AnonymousLimit struct {
	// Burst is how many events of a window pass one by one; default 5.
	Burst int
	// Window is how long a window lasts from a client's first event;
	// default 1 minute.
	Window time.Duration
	// MaxClients is how many clients are counted apart at once; events of
	// further clients share one count (Aggregate.Client "*"). Default 10,000.
	MaxClients int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AfterFunc, when set, is called with a window's remaining time when the
	// window holds back its first event, to write the aggregate then
	// (time.AfterFunc in production). Without it, aggregates are written
	// with the next event after their window, or by Flush.
	AfterFunc func(d time.Duration, f func())
}

// LimitedRecorder is a Recorder behind an AnonymousLimit. Signed-in
// people's events (UserID set) always pass. The limit is held in this
// process's memory: with N replicas each one lets through its own Burst.
type LimitedRecorder struct {
	next    Recorder
	limit   AnonymousLimit
	mu      sync.Mutex
	windows map[limitKey]*limitWindow
	sweepAt time.Time
}

// limitKey is what a window counts: one kind of event from one client.
type limitKey struct {
	client string
	kind   EventKind
}

type limitWindow struct {
	from, to    time.Time
	ip          string // the first address seen
	seen, extra int    // all events, and those held back
}

// overflowClient is the client of events counted together when MaxClients
// are being counted already.
const overflowClient = "*"

// LimitAnonymous puts next behind limit.
func LimitAnonymous(next Recorder, limit AnonymousLimit) *LimitedRecorder {
	if limit.Burst <= 0 {
		limit.Burst = 5
	}
	if limit.Window <= 0 {
		limit.Window = time.Minute
	}
	if limit.MaxClients <= 0 {
		limit.MaxClients = 10_000
	}
	if limit.Now == nil {
		limit.Now = time.Now
	}
	return &LimitedRecorder{next: next, limit: limit, windows: map[limitKey]*limitWindow{}}
}

// Record passes e on when it is a signed-in person's or among the first
// Burst of its client's window; otherwise it counts it. Aggregates of
// windows that have ended are passed on first.
func (l *LimitedRecorder) Record(ctx context.Context, e Event) {
	if e.UserID != 0 {
		l.next.Record(ctx, e)
		return
	}
	now := l.limit.Now()
	l.mu.Lock()
	var due []Event
	if !now.Before(l.sweepAt) { // at most once a second: MaxClients windows to look at
		due = l.closeLocked(now)
		l.sweepAt = now.Add(time.Second)
	}
	key := limitKey{client: clientOf(e.IP), kind: e.Kind}
	w := l.windows[key]
	if w != nil && !now.Before(w.to) {
		if a, ok := l.aggregate(key, w); ok {
			due = append(due, a)
		}
		delete(l.windows, key)
		w = nil
	}
	if w == nil && len(l.windows) >= l.limit.MaxClients {
		key.client = overflowClient
		w = l.windows[key]
	}
	if w == nil {
		w = &limitWindow{from: now, to: now.Add(l.limit.Window), ip: e.IP}
		if key.client == overflowClient {
			w.ip = ""
		}
		l.windows[key] = w
	}
	w.seen++
	pass := w.seen <= l.limit.Burst
	if !pass {
		w.extra++
		if w.extra == 1 && l.limit.AfterFunc != nil {
			l.limit.AfterFunc(w.to.Sub(now), func() { l.Flush(context.WithoutCancel(ctx)) })
		}
	}
	l.mu.Unlock()
	for _, a := range due {
		l.next.Record(ctx, a)
	}
	if pass {
		l.next.Record(ctx, e)
	}
}

// Flush passes on the aggregates of every window that has ended.
func (l *LimitedRecorder) Flush(ctx context.Context) {
	l.mu.Lock()
	due := l.closeLocked(l.limit.Now())
	l.mu.Unlock()
	for _, a := range due {
		l.next.Record(ctx, a)
	}
}

// closeLocked forgets the windows that have ended by now and returns the
// aggregates of those that held events back.
func (l *LimitedRecorder) closeLocked(now time.Time) []Event {
	var due []Event
	for key, w := range l.windows {
		if now.Before(w.to) {
			continue
		}
		if a, ok := l.aggregate(key, w); ok {
			due = append(due, a)
		}
		delete(l.windows, key)
	}
	return due
}

// aggregate is the event that stands for the events w held back, if any.
func (l *LimitedRecorder) aggregate(key limitKey, w *limitWindow) (Event, bool) {
	if w.extra == 0 {
		return Event{}, false
	}
	what := "denied requests"
	if key.kind == EventLoginFailed {
		what = "failed sign-ins"
	}
	from := key.client
	if from == overflowClient {
		from = "clients beyond the first " + fmt.Sprint(l.limit.MaxClients)
	}
	return Event{
		Kind: key.kind,
		Time: w.to,
		IP:   w.ip,
		Reason: fmt.Sprintf("%d more %s from %s in the %s from %s, not recorded one by one (the first %d were)",
			w.extra, what, from, l.limit.Window, w.from.UTC().Format(time.RFC3339), l.limit.Burst),
		Aggregate: &Aggregate{Count: w.extra, Total: w.seen, Client: key.client, From: w.from, To: w.to},
	}, true
}

// clientOf is the client an address counts as: the address itself, or for
// IPv6 its /64, which one subscriber usually holds whole.
func clientOf(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}
