package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrProviderUnavailable means the OpenID provider has not been discovered
// yet: it has not answered since the portal started. Sign-in waits for it;
// sessions, which live in PostgreSQL, do not.
var ErrProviderUnavailable = errors.New("auth: the sign-in provider is unreachable")

// Defaults of the background discovery's backoff (Config).
const (
	DefaultDiscoveryMinBackoff = time.Second
	DefaultDiscoveryMaxBackoff = time.Minute
)

// startAttempt bounds Start's own discovery attempt, so that a provider that
// swallows packets does not hold up the portal's start for long.
const startAttempt = 5 * time.Second

// providerRefusal is an answer of the provider that the portal refuses; see
// discover.
type providerRefusal struct{ msg string }

func (e *providerRefusal) Error() string { return e.msg }

func refused(format string, args ...any) error {
	return &providerRefusal{msg: fmt.Sprintf(format, args...)}
}

// discovery holds the relying party once the provider has been discovered,
// and, until then, retries in the background.
type discovery struct {
	cfg   Config
	party atomic.Pointer[relyingParty]
	// kick asks the background loop to try again early (someone wants to
	// sign in), though never sooner than the minimum backoff after the last
	// attempt.
	kick chan struct{}

	mu      sync.Mutex
	lastErr error // why the last attempt failed; nil once discovered
}

func newDiscovery(cfg Config) *discovery {
	return &discovery{cfg: cfg, kick: make(chan struct{}, 1), lastErr: ErrProviderUnavailable}
}

// get returns the relying party, or nil while the provider is undiscovered.
func (d *discovery) get() *relyingParty { return d.party.Load() }

// attempt discovers the provider once.
func (d *discovery) attempt(ctx context.Context) error {
	rp, err := discover(ctx, d.cfg)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.lastErr = err
		return err
	}
	d.lastErr = nil
	d.party.Store(rp)
	return nil
}

// status is nil once the provider is discovered, and otherwise
// ErrProviderUnavailable wrapping why the last attempt failed.
func (d *discovery) status() error {
	if d.get() != nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if errors.Is(d.lastErr, ErrProviderUnavailable) {
		return d.lastErr
	}
	return fmt.Errorf("%w: %w", ErrProviderUnavailable, d.lastErr)
}

// hurry asks the background loop for an early attempt; it never blocks.
func (d *discovery) hurry() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// retry attempts discovery until it succeeds or ctx ends, waiting
// MinBackoff after the first failure, twice as long after each further one,
// up to MaxBackoff. last is when the previous attempt was made.
func (d *discovery) retry(ctx context.Context, last time.Time) {
	logger := d.cfg.Logger.With("issuer", d.cfg.Issuer)
	wait := d.cfg.DiscoveryMinBackoff
	next := last.Add(wait)
	for {
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-d.kick:
			timer.Stop()
			if soon := last.Add(d.cfg.DiscoveryMinBackoff); soon.Before(next) {
				next = soon
			}
			continue
		case <-timer.C:
		}
		err := d.attempt(ctx)
		if err == nil {
			logger.Info("sign-in provider discovered; sign-in is available")
			return
		}
		if ctx.Err() != nil {
			return
		}
		last = time.Now()
		wait = min(2*wait, d.cfg.DiscoveryMaxBackoff)
		next = last.Add(wait)
		var refusal *providerRefusal
		if errors.As(err, &refusal) {
			logger.Error("sign-in provider refused; fix the configuration", "err", err, "retry_in", wait.String())
		} else {
			logger.Warn("sign-in provider still unreachable", "err", err, "retry_in", wait.String())
		}
	}
}

// endSessionURL is the relying party's, or "" while the provider is
// undiscovered (sign-out then ends at the portal).
func (d *discovery) endSessionURL(idToken string) string {
	rp := d.get()
	if rp == nil {
		return ""
	}
	return rp.endSessionURL(idToken)
}

// ProviderStatus is nil once the OpenID provider has been discovered, and
// otherwise an error matching ErrProviderUnavailable that says why the last
// attempt failed (for logs; it may name hosts).
func (s *Service) ProviderStatus() error { return s.rp.status() }
