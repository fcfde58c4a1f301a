package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// AuditEvent is one event of the audit log.
type AuditEvent struct {
	Seq      int64          `json:"seq"`
	At       time.Time      `json:"at"`
	Actor    AuditActor     `json:"actor"`
	Action   string         `json:"action"`
	Subject  AuditSubject   `json:"subject"`
	Data     any            `json:"data"`
	Origin   map[string]any `json:"origin"`
	PrevHash string         `json:"prev_hash"`
	Hash     string         `json:"hash"`
	Pending  bool           `json:"pending"`
}

// AuditSubject is what an event is about.
type AuditSubject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuditActor is who did it.
type AuditActor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AuditPage is one page of events, newest first; Older and Newer are the
// cursors of the pages on either side (pass as ?before or ?after).
type AuditPage struct {
	Items []AuditEvent `json:"items"`
	Older int64        `json:"older,omitempty"`
	Newer int64        `json:"newer,omitempty"`
}

// auditFilter reads the audit page's filters: actor (repeatable), action
// (repeatable), subject_type, subject_id, cluster, request, from, to
// (RFC 3339 or a date; since is from), text.
func auditFilter(c echo.Context) (audit.Filter, error) {
	q := c.QueryParams()
	f := audit.Filter{Actors: q["actor"], SubjectType: audit.SubjectType(q.Get("subject_type")), SubjectID: q.Get("subject_id"),
		Cluster: q.Get("cluster"), Text: q.Get("text")}
	for _, v := range q["action"] {
		for a := range strings.SplitSeq(v, ",") {
			act := audit.Action(strings.TrimSpace(a))
			if !act.Valid() {
				return f, fieldProblem(http.StatusBadRequest, "invalid-parameter", "action", "unknown action "+strconv.Quote(a))
			}
			f.Actions = append(f.Actions, act)
		}
	}
	if f.SubjectType != "" && !f.SubjectType.Valid() {
		return f, fieldProblem(http.StatusBadRequest, "invalid-parameter", "subject_type", "unknown subject type")
	}
	if raw := q.Get("request"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			return f, fieldProblem(http.StatusBadRequest, "invalid-parameter", "request", "a request number")
		}
		f.Request = n
	}
	for name, into := range map[string]*time.Time{"from": &f.From, "since": &f.From, "to": &f.To} {
		if raw := q.Get(name); raw != "" {
			t, err := parseTime(raw)
			if err != nil {
				return f, fieldProblem(http.StatusBadRequest, "invalid-parameter", name, "a time in RFC 3339 or a date (2006-01-02)")
			}
			*into = t
		}
	}
	return f, nil
}

func cursorParam(c echo.Context, name string) (int64, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0, fieldProblem(http.StatusBadRequest, "invalid-parameter", name, "that cursor is not one this API gave")
	}
	return n, nil
}

func (s *Server) auditList(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	var p audit.PageRequest
	p.Limit = limit
	if p.Before, err = cursorParam(c, "before"); err != nil {
		return err
	}
	if p.After, err = cursorParam(c, "after"); err != nil {
		return err
	}
	page, err := audit.List(c.Request().Context(), s.deps.DB, f, p)
	if err != nil {
		return err
	}
	out := AuditPage{Items: []AuditEvent{}}
	for _, e := range page.Entries {
		out.Items = append(out.Items, auditEventOf(e))
	}
	if page.HasOlder {
		out.Older = page.OlderCursor
	}
	if page.HasNewer {
		out.Newer = page.NewerCursor
	}
	return c.JSON(http.StatusOK, out)
}

func auditEventOf(e audit.Entry) AuditEvent {
	var data any = rawJSON(e.Data)
	if len(e.Data) == 0 {
		data = map[string]any{}
	}
	return AuditEvent{Seq: e.Seq, At: e.At, Actor: AuditActor{Type: string(e.Actor.Type), ID: e.Actor.ID, Name: e.Actor.Name},
		Action: string(e.Action), Subject: AuditSubject{Type: string(e.Subject.Type), ID: e.Subject.ID}, Data: data,
		Origin:   map[string]any{"ip": e.Origin.IP, "request_id": e.Origin.RequestID},
		PrevHash: e.PrevHash.String(), Hash: e.Hash.String(), Pending: e.Pending()}
}

// rawJSON is stored JSON passed through as it is.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// auditExport streams the events the filter selects as JSON Lines (or
// CSV): recorded first as an audit.exported event, as the page's export.
func (s *Server) auditExport(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	format := audit.Format(cmpOr(c.QueryParam("format"), string(audit.FormatJSONL)))
	if !format.Valid() {
		return fieldProblem(http.StatusBadRequest, "invalid-parameter", "format", "jsonl or csv")
	}
	ctx := c.Request().Context()
	actor := actorOf(c)
	upTo, err := audit.RecordExport(ctx, s.deps.DB, audit.User(strconv.FormatInt(actor.UserID, 10), actor.Name), originOf(c), f, format)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, format.ContentType())
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="clusterdesk-audit-to-%d.%s"`, upTo, format))
	c.Response().WriteHeader(http.StatusOK)
	out := audit.IdleWriter(c.Response())
	if n, err := audit.Export(ctx, s.deps.DB, f, upTo, format, out); err != nil {
		return fmt.Errorf("api: audit export stopped after %d events: %w", n, err)
	}
	return nil
}

// auditVerify walks the whole chain and records the verification, as the
// integrity page's button does.
func (s *Server) auditVerify(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := audit.Verify(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	actor := actorOf(c)
	if _, err := audit.RecordVerification(ctx, s.deps.DB, audit.User(strconv.FormatInt(actor.UserID, 10), actor.Name), originOf(c), r); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
