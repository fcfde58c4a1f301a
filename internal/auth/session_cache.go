package auth

import (
	"sync"
	"time"
)

// sessionCacheMax bounds the sessions remembered at once; beyond it the
// stale ones are dropped, and if none is stale, all of them.
const sessionCacheMax = 10_000

// sessionCache remembers the sessions this process read, for
// Config.SessionRecheck: a person's next clicks within that time need no
// statement (B1, docs/performance.md: the session read was about two thirds
// of the framework's cost on small pages). A sign-out or sign-in in this
// process forgets the session at once; one in another replica (or a
// deletion in the database) is seen within SessionRecheck, the bound the
// event streams already keep (WatchSession). Expiry is still judged on
// every request, against the clock. Roles are worked out from the groups
// on each use, so the mapping in force always applies.
type sessionCache struct {
	ttl time.Duration

	mu      sync.Mutex
	entries map[string]cachedSession // by session id hash
}

type cachedSession struct {
	sess    Session
	expires time.Time // the row's expires_at
	readAt  time.Time
}

func newSessionCache(ttl time.Duration) *sessionCache {
	return &sessionCache{ttl: ttl, entries: map[string]cachedSession{}}
}

// get returns the session with id hash h if it was read within the TTL.
func (c *sessionCache) get(h []byte, now time.Time) (cachedSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(h)]
	if !ok || now.Sub(e.readAt) >= c.ttl || now.Before(e.readAt) {
		return cachedSession{}, false
	}
	return e, true
}

func (c *sessionCache) put(e cachedSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= sessionCacheMax {
		for h, old := range c.entries {
			if e.readAt.Sub(old.readAt) >= c.ttl {
				delete(c.entries, h)
			}
		}
		if len(c.entries) >= sessionCacheMax {
			clear(c.entries)
		}
	}
	c.entries[string(e.sess.idHash)] = e
}

func (c *sessionCache) forget(h []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, string(h))
}
