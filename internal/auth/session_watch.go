package auth

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultSessionRecheck is how often watched sessions are checked when
// Config.SessionRecheck is zero.
const DefaultSessionRecheck = 2 * time.Second

// WatchSession reports the end of sess, for a response that outlives its
// request's sign-in check (an event stream): ended is closed within about
// Config.SessionRecheck of the session's sign-out, expiry or deletion.
// Call stop when done watching. All sessions watched in a process are
// checked together, with one query each SessionRecheck, and only while any
// is watched; the check neither touches nor deletes a session, and needs no
// provider. A failing check is logged and ends nothing.
func (s *Service) WatchSession(sess *Session) (ended <-chan struct{}, stop func()) {
	return s.watch.add(string(sess.idHash))
}

// sessionWatch checks the watched sessions on one goroutine, which runs
// while there are any.
type sessionWatch struct {
	svc *Service

	mu       sync.Mutex
	watchers map[string]map[*sessionWatcher]struct{} // by session id hash
	running  bool
}

type sessionWatcher struct {
	ended chan struct{}
}

func newSessionWatch(svc *Service) *sessionWatch {
	return &sessionWatch{svc: svc, watchers: map[string]map[*sessionWatcher]struct{}{}}
}

func (w *sessionWatch) add(idHash string) (<-chan struct{}, func()) {
	sw := &sessionWatcher{ended: make(chan struct{})}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watchers[idHash] == nil {
		w.watchers[idHash] = map[*sessionWatcher]struct{}{}
	}
	w.watchers[idHash][sw] = struct{}{}
	if !w.running {
		w.running = true
		go w.run()
	}
	stop := sync.OnceFunc(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if set := w.watchers[idHash]; set != nil {
			delete(set, sw)
			if len(set) == 0 {
				delete(w.watchers, idHash)
			}
		}
	})
	return sw.ended, stop
}

// run checks the watched sessions every SessionRecheck and returns when
// none is watched.
func (w *sessionWatch) run() {
	ticker := time.NewTicker(w.svc.cfg.SessionRecheck)
	defer ticker.Stop()
	for range ticker.C {
		w.mu.Lock()
		if len(w.watchers) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		hashes := make([][]byte, 0, len(w.watchers))
		for h := range w.watchers {
			hashes = append(hashes, []byte(h))
		}
		w.mu.Unlock()

		alive, err := w.svc.sessionsAlive(hashes)
		if err != nil {
			w.svc.logger.Warn("checking the sessions of open event streams", "err", err)
			continue
		}
		w.mu.Lock()
		for _, h := range hashes {
			if alive[string(h)] {
				continue
			}
			for sw := range w.watchers[string(h)] {
				close(sw.ended)
			}
			delete(w.watchers, string(h))
		}
		w.mu.Unlock()
	}
}

// sessionsAlive says which of the sessions (by id hash) exist and are
// within their timeouts, by the same rules as Session, without touching
// them.
func (s *Service) sessionsAlive(hashes [][]byte) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT s.id_hash, s.created_at, s.last_seen_at, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id_hash = ANY($1) AND u.issuer = $2`,
		hashes, s.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("auth: check watched sessions: %w", err)
	}
	defer rows.Close()
	now := s.now()
	alive := map[string]bool{}
	for rows.Next() {
		var h []byte
		var created, lastSeen, expires time.Time
		if err := rows.Scan(&h, &created, &lastSeen, &expires); err != nil {
			return nil, fmt.Errorf("auth: check watched sessions: %w", err)
		}
		alive[string(h)] = now.Before(expires) && now.Before(s.expiresAt(created, lastSeen))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth: check watched sessions: %w", err)
	}
	return alive, nil
}
