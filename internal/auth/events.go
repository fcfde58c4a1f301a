package auth

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
	"unicode/utf8"
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
	// Reason says why a sign-in failed or a request was denied, in the
	// portal's words.
	Reason string
	// AuditReason, when set, stands for Reason in the audit log (Details):
	// Reason quotes text the client chose, which the process log keeps in
	// the reason and the audit log only under ClientSupplied.
	AuditReason string
	// ClientSupplied holds text the client chose (a provider error and its
	// description from the query string, the method and path an anonymous
	// client asked for), by name. It is recorded apart from the portal's
	// words and capped at MaxClientText characters.
	ClientSupplied map[string]string
	// Aggregate is set on an event that stands for many: the events of this
	// kind from one client past the first few in a window (LimitAnonymous).
	Aggregate *Aggregate
}

// Aggregate counts the events of one kind from one anonymous client in a
// window that were not recorded one by one.
type Aggregate struct {
	// Count is how many were not recorded one by one; Total adds those that
	// were (the first Burst of the window).
	Count, Total int
	// Client is the address, or the IPv6 /64, the events came from; "*"
	// when too many clients were being counted at once to tell them apart.
	Client string
	// From and To bound the window.
	From, To time.Time
}

// MaxClientText is the most characters of client-chosen text an event
// keeps in one field (reason, method, path or a ClientSupplied value).
const MaxClientText = 200

// capText keeps at most MaxClientText characters of s. A longer s keeps its
// beginning, then "…" and its original length, within the limit; a capped
// string is never capped again.
func capText(s string) string {
	n := utf8.RuneCountInString(s)
	if n <= MaxClientText {
		return s
	}
	tail := fmt.Sprintf("… [%d characters]", n)
	keep := MaxClientText - utf8.RuneCountInString(tail)
	i := 0
	for range keep {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + tail
}

// capped returns e with every field that may hold client-chosen text
// capped (capText).
func (e Event) capped() Event {
	e.Reason, e.AuditReason = capText(e.Reason), capText(e.AuditReason)
	e.Method, e.Path = capText(e.Method), capText(e.Path)
	if e.ClientSupplied != nil {
		e.ClientSupplied = maps.Clone(e.ClientSupplied)
		for k, v := range e.ClientSupplied {
			e.ClientSupplied[k] = capText(v)
		}
	}
	return e
}

// Details is what the audit log keeps of e beside its actor, action and
// origin: subject, method, path and reason (AuditReason when set) when set;
// the client's own text under "client_supplied", so that a reader can tell
// it is not the portal's; and for an aggregate, "aggregated" with its count,
// total, client and window. Text is capped as in capText.
func (e Event) Details() map[string]any {
	e = e.capped()
	if e.AuditReason != "" {
		e.Reason = e.AuditReason
	}
	d := map[string]any{}
	for k, v := range map[string]string{"subject": e.Subject, "method": e.Method, "path": e.Path, "reason": e.Reason} {
		if v != "" {
			d[k] = v
		}
	}
	if len(e.ClientSupplied) > 0 {
		d["client_supplied"] = e.ClientSupplied
	}
	if a := e.Aggregate; a != nil {
		d["aggregated"] = map[string]any{
			"count": a.Count, "total": a.Total, "client": a.Client,
			"from": a.From.UTC().Format(time.RFC3339Nano), "to": a.To.UTC().Format(time.RFC3339Nano),
		}
	}
	return d
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
// sign-outs log at info level, failures and denials at warn. Client-chosen
// text is capped first (capText), in the log as in the Recorder.
func (s *Service) Record(ctx context.Context, e Event) {
	e = e.capped()
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
	if len(e.ClientSupplied) > 0 {
		client := make([]any, 0, len(e.ClientSupplied))
		for _, k := range slices.Sorted(maps.Keys(e.ClientSupplied)) {
			client = append(client, slog.String(k, e.ClientSupplied[k]))
		}
		attrs = append(attrs, slog.Group("client_supplied", client...))
	}
	s.logger.LogAttrs(ctx, level, "security event", attrs...)
	if s.recorder != nil {
		s.recorder.Record(ctx, e)
	}
}
