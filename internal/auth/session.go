package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoSession means the browser presented no session, or one that does not
// exist (signed out, or never issued).
var ErrNoSession = errors.New("auth: no session")

// ErrSessionExpired means the session existed but passed its idle or
// absolute timeout; it is deleted.
var ErrSessionExpired = errors.New("auth: session expired")

// touchInterval is how stale last_seen_at may get before a request writes it
// again; it keeps most requests free of writes, and is far below any
// sensible idle timeout.
const touchInterval = time.Minute

// Session is a signed-in browser.
type Session struct {
	User User
	// CSRFToken must come back with every state-changing request, in the
	// X-CSRF-Token header or the csrf_token form field.
	CSRFToken  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	idHash     []byte
}

// ValidCSRF reports, in constant time, whether token is this session's CSRF
// token.
func (s Session) ValidCSRF(token string) bool { return equalTokens(s.CSRFToken, token) }

// NewSession is the result of a completed sign-in.
type NewSession struct {
	// Cookie is the new session id for the browser; only its hash is stored.
	Cookie  string
	Session Session
	// ReturnTo is the page the person wanted before signing in.
	ReturnTo string
}

func (s *Service) expiresAt(created, lastSeen time.Time) time.Time {
	idle := lastSeen.Add(s.cfg.IdleTimeout)
	absolute := created.Add(s.cfg.AbsoluteTimeout)
	if idle.Before(absolute) {
		return idle
	}
	return absolute
}

// sessionInsert creates a session with a fresh id for user.
func (s *Service) sessionInsert(ctx context.Context, tx pgx.Tx, user User, idToken string, now time.Time) (NewSession, error) {
	id := newToken()
	sess := Session{User: user, CSRFToken: newToken(), CreatedAt: now, LastSeenAt: now, idHash: hashToken(id)}
	_, err := tx.Exec(ctx, `
		INSERT INTO sessions (id_hash, user_id, csrf_token, id_token, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $5, $6)`,
		sess.idHash, user.ID, sess.CSRFToken, idToken, now, s.expiresAt(now, now))
	if err != nil {
		return NewSession{}, fmt.Errorf("auth: create session: %w", err)
	}
	return NewSession{Cookie: id, Session: sess}, nil
}

// Session returns the session whose id the browser presented, with the
// person's current roles, and marks it used (at most once a minute). A
// session read in this process within Config.SessionRecheck is not read
// again (sessionCache). It returns ErrNoSession for an
// unknown id and ErrSessionExpired (deleting the session) for one past its
// idle or absolute timeout.
func (s *Service) Session(ctx context.Context, cookie string) (Session, error) {
	if cookie == "" {
		return Session{}, ErrNoSession
	}
	h := hashToken(cookie)
	now := s.now()
	if e, ok := s.sessions.get(h, now); ok && now.Before(e.expires) && now.Before(s.expiresAt(e.sess.CreatedAt, e.sess.LastSeenAt)) {
		sess := e.sess
		sess.User.Roles = s.cfg.Roles.Roles(sess.User.Groups)
		return sess, nil
	}
	sess := Session{idHash: h}
	u := &sess.User
	var expires time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
		       u.id, u.issuer, u.subject, u.username, u.name, u.email, u.groups, u.last_login_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id_hash = $1 AND u.issuer = $2`,
		sess.idHash, s.cfg.Issuer,
	).Scan(&sess.CSRFToken, &sess.CreatedAt, &sess.LastSeenAt, &expires,
		&u.ID, &u.Issuer, &u.Subject, &u.Username, &u.Name, &u.Email, &u.Groups, &u.LastLogin)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: read session: %w", err)
	}
	if !now.Before(expires) || !now.Before(s.expiresAt(sess.CreatedAt, sess.LastSeenAt)) {
		s.sessions.forget(h)
		if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, sess.idHash); err != nil {
			return Session{}, fmt.Errorf("auth: delete expired session: %w", err)
		}
		return Session{}, ErrSessionExpired
	}
	if now.Sub(sess.LastSeenAt) >= touchInterval {
		sess.LastSeenAt, expires = now, s.expiresAt(sess.CreatedAt, now)
		if _, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1`,
			sess.idHash, now, expires); err != nil {
			return Session{}, fmt.Errorf("auth: touch session: %w", err)
		}
	}
	s.sessions.put(cachedSession{sess: sess, expires: expires, readAt: now})
	u.Roles = s.cfg.Roles.Roles(u.Groups)
	return sess, nil
}

// Logout deletes the session whose id the browser presented. It returns the
// person it belonged to and where sign-out continues at the provider ("" if
// nowhere). An unknown or expired session gives ErrNoSession.
func (s *Service) Logout(ctx context.Context, cookie string) (User, string, error) {
	if cookie == "" {
		return User{}, "", ErrNoSession
	}
	s.sessions.forget(hashToken(cookie))
	var u User
	var idToken string
	err := s.pool.QueryRow(ctx, `
		DELETE FROM sessions s USING users u
		WHERE s.id_hash = $1 AND u.id = s.user_id
		RETURNING s.id_token, u.id, u.issuer, u.subject, u.username, u.name, u.email, u.groups`,
		hashToken(cookie),
	).Scan(&idToken, &u.ID, &u.Issuer, &u.Subject, &u.Username, &u.Name, &u.Email, &u.Groups)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, "", ErrNoSession
	}
	if err != nil {
		return User{}, "", fmt.Errorf("auth: delete session: %w", err)
	}
	u.Roles = s.cfg.Roles.Roles(u.Groups)
	return u, s.rp.endSessionURL(idToken), nil
}

// EndSessionURL is where sign-out continues at the provider when no ID token
// is at hand (the session already ended), or "" if the provider has no
// end_session_endpoint.
func (s *Service) EndSessionURL() string { return s.rp.endSessionURL("") }

// DeleteExpired removes sessions and unfinished sign-ins past their end. It
// returns how many sessions it removed. Safe to run from several replicas.
func (s *Service) DeleteExpired(ctx context.Context) (int64, error) {
	now := s.now()
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("auth: delete expired sessions: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_attempts WHERE expires_at <= $1`, now); err != nil {
		return 0, fmt.Errorf("auth: delete expired sign-ins: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RunCleanup calls DeleteExpired every interval until ctx ends, logging
// failures.
func (s *Service) RunCleanup(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.DeleteExpired(ctx); err != nil {
				s.logger.Warn("deleting expired sessions", "err", err)
			} else if n > 0 {
				s.logger.Debug("deleted expired sessions", "count", n)
			}
		}
	}
}
