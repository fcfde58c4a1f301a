package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"
)

// ErrLoginFailed is the error of every refused sign-in; errors.As with
// *LoginError gives the reason.
var ErrLoginFailed = errors.New("auth: sign-in failed")

// LoginError is a refused sign-in. Reason is for the logs: it never holds a
// token, and the person only sees that the sign-in failed.
type LoginError struct {
	Reason string
	// Cancelled is set when the person cancelled at the provider, or the
	// provider refused them (error=access_denied).
	Cancelled bool
}

func (e *LoginError) Error() string { return "auth: sign-in failed: " + e.Reason }

// Is makes errors.Is(err, ErrLoginFailed) true.
func (e *LoginError) Is(target error) bool { return target == ErrLoginFailed }

func loginFailed(format string, args ...any) *LoginError {
	return &LoginError{Reason: fmt.Sprintf(format, args...)}
}

// LoginStart is a sign-in about to leave for the provider.
type LoginStart struct {
	// Cookie binds the browser to this sign-in; it must come back with the
	// callback. It is valid for Service.LoginTimeout.
	Cookie string
	// RedirectURL is the provider's authorization URL.
	RedirectURL string
}

// BeginLogin starts a sign-in that will return to returnTo (made safe with
// SafeReturnPath). The state, nonce and PKCE verifier stay in the database,
// bound to the returned cookie. While the provider is undiscovered it
// returns an error matching ErrProviderUnavailable and asks the background
// discovery to try again soon.
func (s *Service) BeginLogin(ctx context.Context, returnTo string) (LoginStart, error) {
	rp := s.rp.get()
	if rp == nil {
		s.rp.hurry()
		return LoginStart{}, s.rp.status()
	}
	id, state, nonce, verifier := newToken(), newToken(), newToken(), oauth2.GenerateVerifier()
	now := s.now()
	_, err := s.pool.Exec(ctx, `
		INSERT INTO login_attempts (id_hash, state, nonce, code_verifier, return_to, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		hashToken(id), state, nonce, verifier, SafeReturnPath(returnTo), now, now.Add(s.cfg.LoginTimeout))
	if err != nil {
		return LoginStart{}, fmt.Errorf("auth: begin sign-in: %w", err)
	}
	return LoginStart{Cookie: id, RedirectURL: rp.authCodeURL(state, nonce, verifier)}, nil
}

// Callback is what the provider sent back to the redirect URI.
type Callback struct {
	Code, State      string
	Error, ErrorDesc string
}

// FinishLogin completes the sign-in that loginCookie started. The sign-in is
// used up whatever happens, so a callback cannot be replayed. On success the
// person is recorded (by issuer and subject), the session that
// previousSession names (if any) is deleted and a new session with a fresh
// id is created. Every refusal is a *LoginError. A provider not discovered
// (yet) by this process gives an error matching ErrProviderUnavailable, and
// the sign-in is not used up.
func (s *Service) FinishLogin(ctx context.Context, loginCookie string, cb Callback, previousSession string) (NewSession, error) {
	rp := s.rp.get()
	if rp == nil {
		s.rp.hurry()
		return NewSession{}, s.rp.status()
	}
	if loginCookie == "" {
		return NewSession{}, loginFailed("no sign-in in progress in this browser (no sign-in cookie)")
	}
	var state, nonce, verifier, returnTo string
	var expires time.Time
	err := s.pool.QueryRow(ctx, `
		DELETE FROM login_attempts WHERE id_hash = $1
		RETURNING state, nonce, code_verifier, return_to, expires_at`,
		hashToken(loginCookie),
	).Scan(&state, &nonce, &verifier, &returnTo, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return NewSession{}, loginFailed("unknown or already used sign-in")
	}
	if err != nil {
		return NewSession{}, fmt.Errorf("auth: finish sign-in: %w", err)
	}
	now := s.now()
	switch {
	case !now.Before(expires):
		return NewSession{}, loginFailed("the sign-in took longer than %s", s.cfg.LoginTimeout)
	case cb.State == "":
		return NewSession{}, loginFailed("the callback has no state")
	case !equalTokens(state, cb.State):
		return NewSession{}, loginFailed("the callback's state does not match this browser's sign-in")
	case cb.Error != "":
		return NewSession{}, &LoginError{Reason: "the provider answered " + cb.Error + ": " + cb.ErrorDesc, Cancelled: cb.Error == "access_denied"}
	case cb.Code == "":
		return NewSession{}, loginFailed("the callback has no code")
	}
	id, err := rp.exchange(ctx, cb.Code, verifier, nonce)
	if err != nil {
		return NewSession{}, loginFailed("%v", err)
	}

	var created NewSession
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		user, err := userUpsert(ctx, tx, id, now)
		if err != nil {
			return fmt.Errorf("auth: record user: %w", err)
		}
		user.Roles = s.cfg.Roles.Roles(user.Groups)
		if previousSession != "" {
			s.sessions.forget(hashToken(previousSession))
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hashToken(previousSession)); err != nil {
				return fmt.Errorf("auth: end previous session: %w", err)
			}
		}
		created, err = s.sessionInsert(ctx, tx, user, id.RawIDToken, now)
		return err
	})
	if err != nil {
		return NewSession{}, err
	}
	created.ReturnTo = returnTo
	return created, nil
}
