// Package ratelimit bounds how fast one person acts: a token bucket per
// person, in memory, per replica.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter is a token bucket per person, for the pages' state-changing
// requests and the API's calls. A bucket holds perMinute tokens and gains one back every
// minute/perMinute, so a person may send perMinute changes at once and then
// perMinute a minute. The limiter is in memory: each replica of the portal
// counts on its own.
//
// A bucket is kept as the moment it is full again. A full bucket is the same
// as none, so buckets are dropped once full: the map holds only the people
// who made a change within the last minute.
type Limiter struct {
	interval time.Duration // how long one token takes to come back
	window   time.Duration // how long an empty bucket takes to fill
	now      func() time.Time

	mu    sync.Mutex
	full  map[int64]time.Time // by user id: when the bucket is full again
	swept time.Time           // when full buckets were last dropped
}

// New returns a limiter of perMinute changes a minute, or nil
// (no limit) when perMinute is zero or less. now is its clock; nil is
// time.Now.
func New(perMinute int, now func() time.Time) *Limiter {
	if perMinute <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	interval := time.Minute / time.Duration(perMinute)
	return &Limiter{
		interval: interval,
		window:   interval * time.Duration(perMinute),
		now:      now,
		full:     make(map[int64]time.Time),
	}
}

// Take spends one of the person's tokens (a nil Limiter has no limit). When the bucket is empty nothing
// is spent, ok is false and wait is how long until a token is back.
func (l *Limiter) Take(userID int64) (wait time.Duration, ok bool) {
	if l == nil {
		return 0, true // no limit
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	full := l.full[userID]
	if full.Before(now) {
		full = now
	}
	next := full.Add(l.interval)
	if over := next.Sub(now) - l.window; over > 0 {
		return over, false
	}
	l.full[userID] = next
	return 0, true
}

// sweep drops the buckets that are full again, at most once a window, so
// that memory stays bounded by the people active within the last minute
// at a cost spread over a minute's requests.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < l.window {
		return
	}
	for id, full := range l.full {
		if !full.After(now) {
			delete(l.full, id)
		}
	}
	l.swept = now
}

// Buckets is how many people's buckets are held.
func (l *Limiter) Buckets() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.full)
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least one: the
// value of a Retry-After header.
func RetryAfterSeconds(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}
