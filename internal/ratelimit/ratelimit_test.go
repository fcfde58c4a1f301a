package ratelimit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/ratelimit"
)

type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time          { return c.now }
func (c *testClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// TestLimiterBuckets: the limiter's arithmetic on a clock the test
// moves: waits are until the next token, tokens come back one by one, and
// a bucket that is full again is dropped, so memory holds only the people
// active within the last minute.
func TestLimiterBuckets(t *testing.T) {
	t.Parallel()
	clock := &testClock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	l := ratelimit.New(120, clock.Now) // a token every 500 ms

	for range 120 {
		_, ok := l.Take(1)
		require.True(t, ok)
	}
	wait, ok := l.Take(1)
	require.False(t, ok)
	require.Equal(t, 500*time.Millisecond, wait)
	require.Equal(t, 1, ratelimit.RetryAfterSeconds(wait), "Retry-After is whole seconds, rounded up")

	clock.Advance(499 * time.Millisecond)
	_, ok = l.Take(1)
	require.False(t, ok, "no token before its time")
	clock.Advance(time.Millisecond)
	_, ok = l.Take(1)
	require.True(t, ok, "one token back after 500 ms")
	_, ok = l.Take(1)
	require.False(t, ok, "and only one")

	for id := range int64(1000) {
		_, ok := l.Take(id + 2)
		require.True(t, ok, "person %d has a bucket of their own", id+2)
	}
	require.Equal(t, 1001, l.Buckets())
	// Person 1's bucket is empty again and those of 1000 others fill in
	// 500 ms; a minute on, all are full and dropped by the next change.
	clock.Advance(time.Minute)
	_, ok = l.Take(1)
	require.True(t, ok)
	require.Equal(t, 1, l.Buckets(), "full buckets are dropped; only the one just used is kept")
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		wait time.Duration
		want int
	}{
		{0, 1},
		{time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{12 * time.Second, 12},
	} {
		require.Equal(t, tt.want, ratelimit.RetryAfterSeconds(tt.wait), "wait %s", tt.wait)
	}
}
