package auth

import (
	"context"
	"log/slog"
	"time"
)

// EventKind names a security event.
type EventKind string

// The security events the portal records.
const (
	EventLogin       EventKind = "auth.login"        // a person signed in
	EventLoginFailed EventKind = "auth.login_failed" // a sign-in was refused (bad state, token, provider error…)
	EventLogout      EventKind = "auth.logout"       // a person signed out
	EventDenied      EventKind = "auth.denied"       // a signed-in person was refused a page or an action
)

// Event is one sign-in, sign-out, failed sign-in or authorization denial.
// It never carries tokens or cookie values.
type Event struct {
	Kind EventKind
	// Time is when it happened, in UTC.
	Time time.Time
	// UserID, Username and Subject identify the person; empty when unknown
	// (a failed sign-in before the ID token was verified).
	UserID   int64
	Username string
	Subject  string
	// IP is the client's address, RequestID the request's id in the logs.
	IP        string
	RequestID string
	// Method and Path are what was asked for (denials).
	Method, Path string
	// Reason says why a sign-in failed or a request was denied, in words.
	Reason string
}

// Recorder receives security events, for example to write them to the audit
// log. Record must not block for long and cannot fail the request: it is
// called after the decision is made. Events are always logged with slog as
// well, whatever the Recorder does.
type Recorder interface {
	Record(ctx context.Context, e Event)
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(ctx context.Context, e Event)

// Record calls f.
func (f RecorderFunc) Record(ctx context.Context, e Event) { f(ctx, e) }

// Record logs e and passes it to the configured Recorder. Sign-ins and
// sign-outs log at info level, failures and denials at warn.
func (s *Service) Record(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = e.Time.UTC()
	level := slog.LevelInfo
	if e.Kind == EventLoginFailed || e.Kind == EventDenied {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("event", string(e.Kind)),
		slog.Time("at", e.Time),
		slog.String("request_id", e.RequestID),
		slog.String("remote_ip", e.IP),
	}
	if e.UserID != 0 {
		attrs = append(attrs, slog.Int64("user_id", e.UserID), slog.String("username", e.Username), slog.String("subject", e.Subject))
	}
	if e.Path != "" {
		attrs = append(attrs, slog.String("method", e.Method), slog.String("path", e.Path))
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	s.logger.LogAttrs(ctx, level, "security event", attrs...)
	if s.recorder != nil {
		s.recorder.Record(ctx, e)
	}
}
