package auth_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
)

// limitSink keeps what passes a LimitedRecorder.
type limitSink struct {
	mu     sync.Mutex
	events []auth.Event
}

func (s *limitSink) Record(_ context.Context, e auth.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *limitSink) all() []auth.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]auth.Event(nil), s.events...)
}

// limitSetup is a LimitedRecorder of 2 a minute for 2 clients on a clock
// the test moves, with its timers kept for the test to fire.
type limitSetup struct {
	sink    *limitSink
	limited *auth.LimitedRecorder
	now     time.Time
	timers  []time.Duration
	fire    []func()
}

func newLimitSetup() *limitSetup {
	s := &limitSetup{sink: &limitSink{}, now: time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)}
	s.limited = auth.LimitAnonymous(s.sink, auth.AnonymousLimit{
		Burst: 2, Window: time.Minute, MaxClients: 2,
		Now: func() time.Time { return s.now },
		AfterFunc: func(d time.Duration, f func()) {
			s.timers = append(s.timers, d)
			s.fire = append(s.fire, f)
		},
	})
	return s
}

func TestLimitAnonymous(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	failed := func(ip string) auth.Event { return auth.Event{Kind: auth.EventLoginFailed, IP: ip} }

	t.Run("a timer writes the aggregate when the window ends", func(t *testing.T) {
		t.Parallel()
		s := newLimitSetup()
		for range 5 {
			s.limited.Record(ctx, failed("192.0.2.1"))
		}
		s.now = s.now.Add(20 * time.Second)
		s.limited.Record(ctx, failed("192.0.2.1"))
		require.Len(t, s.sink.all(), 2, "the first two pass")
		require.Equal(t, []time.Duration{time.Minute}, s.timers, "one timer, set by the first event held back")
		s.now = s.now.Add(40 * time.Second)
		s.fire[0]()
		got := s.sink.all()
		require.Len(t, got, 3)
		a := got[2].Aggregate
		require.NotNil(t, a)
		require.Equal(t, auth.Aggregate{Count: 4, Total: 6, Client: "192.0.2.1", From: s.now.Add(-time.Minute), To: s.now}, *a)
		require.Equal(t, "192.0.2.1", got[2].IP)
		require.Contains(t, got[2].Reason, "4 more failed sign-ins from 192.0.2.1")
		s.limited.Flush(ctx)
		require.Len(t, s.sink.all(), 3, "an aggregate is written once")
	})

	t.Run("signed-in people and other kinds are counted apart or not at all", func(t *testing.T) {
		t.Parallel()
		s := newLimitSetup()
		for range 4 {
			s.limited.Record(ctx, auth.Event{Kind: auth.EventDenied, IP: "192.0.2.1", UserID: 7})
			s.limited.Record(ctx, auth.Event{Kind: auth.EventDenied, IP: "192.0.2.1"})
			s.limited.Record(ctx, failed("192.0.2.1"))
		}
		require.Len(t, s.sink.all(), 4+2+2)
	})

	t.Run("clients beyond MaxClients share one count", func(t *testing.T) {
		t.Parallel()
		s := newLimitSetup()
		for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "2001:db8::1"} {
			s.limited.Record(ctx, failed(ip))
		}
		require.Len(t, s.sink.all(), 4, "2 clients, and 2 of the 4 others together")
		s.now = s.now.Add(time.Minute)
		s.limited.Flush(ctx)
		got := s.sink.all()
		require.Len(t, got, 5)
		require.Equal(t, "*", got[4].Aggregate.Client)
		require.Equal(t, 2, got[4].Aggregate.Count)
		require.Empty(t, got[4].IP, "no one address stands for them")
	})
}

func TestEventDetailsCapAndMarkClientText(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 60_000)
	d := auth.Event{
		Reason:         strings.Repeat("r", auth.MaxClientText),
		ClientSupplied: map[string]string{"error_description": long, "error": "x"},
	}.Details()
	require.Equal(t, strings.Repeat("r", auth.MaxClientText), d["reason"], "text at the limit is kept whole")
	client := d["client_supplied"].(map[string]string)
	require.Equal(t, "x", client["error"])
	desc := client["error_description"]
	require.Equal(t, auth.MaxClientText, utf8.RuneCountInString(desc))
	require.True(t, utf8.ValidString(desc), "cut between characters, not inside one")
	require.True(t, strings.HasSuffix(desc, "é… [60000 characters]"), desc)
	require.NotContains(t, d, "aggregated")

	d = auth.Event{Reason: "the provider answered x: " + long, AuditReason: "the provider answered with an error"}.Details()
	require.Equal(t, "the provider answered with an error", d["reason"], "the audit log keeps the portal's words")
}
