package auth

import "context"

type sessionKey struct{}

// WithSession returns a context that carries the signed-in session.
func WithSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// SessionFrom returns the session the context carries, if any.
func SessionFrom(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*Session)
	return s, ok && s != nil
}

// UserFrom returns the signed-in person of the request whose context this
// is. The web layer's sign-in middleware puts them there; ok is false on
// public routes.
func UserFrom(ctx context.Context) (User, bool) {
	s, ok := SessionFrom(ctx)
	if !ok {
		return User{}, false
	}
	return s.User, true
}
