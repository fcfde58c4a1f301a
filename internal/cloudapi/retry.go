package cloudapi

import (
	"math/rand/v2"
	"time"
)

// RetryPolicy says how often and how patiently a call is repeated after a
// retryable failure (see IsRetryable). Only calls that are safe to repeat
// are retried: GET, PUT, PATCH and DELETE, plus any call whose request never
// left this process (token fetch failed, connection refused). A POST that
// reached the service is never repeated: the caller reconciles (e.g. looks
// for the cluster by name) before creating again.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included. Zero means 3;
	// 1 turns retries off.
	MaxAttempts int
	// BaseDelay is the wait before the first retry; each later wait doubles,
	// with random jitter of up to half. Zero means 200 ms.
	BaseDelay time.Duration
	// MaxDelay caps every wait. A Retry-After longer than MaxDelay ends the
	// retries at once (the error carries the wait; see RetryAfter), so a
	// caller with a job queue can reschedule instead of blocking. Zero
	// means 5 s.
	MaxDelay time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 200 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 5 * time.Second
	}
	return p
}

// wait returns how long to wait before retry number n (1 for the first) of
// a call that failed with err, and false when the call must not wait that
// long.
func (p RetryPolicy) wait(n int, err error) (time.Duration, bool) {
	d := p.BaseDelay << min(n-1, 30)
	if d <= 0 || d > p.MaxDelay {
		d = p.MaxDelay
	}
	// "Equal jitter": half fixed, half random, so that clients that failed
	// together do not retry together.
	d = d/2 + rand.N(d/2+1)
	if after, ok := RetryAfter(err); ok {
		if after > p.MaxDelay {
			return 0, false
		}
		d = max(d, after)
	}
	return d, true
}
