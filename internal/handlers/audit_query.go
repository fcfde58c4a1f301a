package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// auditQuery is what the audit page's URL asks for: a filter and a page.
// The same parameters drive the list, its htmx fragment and the exports, so
// any view can be bookmarked, shared, or downloaded as it is.
type auditQuery struct {
	filter audit.Filter
	page   audit.PageRequest
	form   templates.AuditForm
}

// auditTimeLayouts are the time formats the from and to parameters accept,
// all read as UTC: what <input type="datetime-local"> sends, a plain date,
// and RFC 3339.
var auditTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339Nano}

// minTextLength is the shortest free-text search: trigram indexes need three
// characters, and shorter text would scan the whole log.
const minTextLength = 3

// parseAuditQuery reads the URL's parameters. Mistakes become messages on
// the form's fields, never a silently different filter.
func parseAuditQuery(q url.Values) auditQuery {
	var a auditQuery
	errs := map[string]string{}
	f := &a.filter

	f.ActorID = strings.TrimSpace(q.Get("actor"))
	f.SubjectID = strings.TrimSpace(q.Get("subject_id"))
	f.Text = strings.TrimSpace(q.Get("q"))
	if n := len([]rune(f.Text)); n > 0 && n < minTextLength {
		errs["q"] = fmt.Sprintf("Type at least %d characters.", minTextLength)
	}
	if t := audit.SubjectType(q.Get("subject_type")); t != "" {
		if !t.Valid() {
			errs["subject_type"] = fmt.Sprintf("There is no subject type %q.", t)
		}
		f.SubjectType = t
	}
	for _, name := range q["action"] {
		if a := audit.Action(name); !a.Valid() {
			errs["action"] = fmt.Sprintf("There is no action %q.", name)
		} else if !slices.Contains(f.Actions, a) {
			f.Actions = append(f.Actions, a)
		}
	}
	var fromText, toText string
	f.From, fromText = parseAuditTime(q.Get("from"), "from", errs)
	f.To, toText = parseAuditTime(q.Get("to"), "to", errs)
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		errs["to"] = "Must be later than From."
	}

	for _, p := range []struct {
		name string
		seq  *int64
	}{{"before", &a.page.Before}, {"after", &a.page.After}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || (n == 0 && p.name == "before") {
			errs["before"] = "That page link is broken: start again from the newest page."
			continue
		}
		*p.seq = n
	}
	if q.Has("after") && a.page.After == 0 {
		a.page.Oldest = true
	}

	a.form = templates.AuditForm{
		Actor: f.ActorID, SubjectType: string(f.SubjectType), SubjectID: f.SubjectID,
		From: fromText, To: toText, Text: f.Text, Errors: errs,
	}
	for _, act := range audit.Actions() {
		a.form.Actions = append(a.form.Actions, templates.AuditOption{
			Value: string(act), Label: string(act), Selected: slices.Contains(f.Actions, act)})
	}
	for _, t := range audit.SubjectTypes() {
		a.form.SubjectTypes = append(a.form.SubjectTypes, templates.AuditOption{
			Value: string(t), Label: strings.ReplaceAll(string(t), "_", " "), Selected: t == f.SubjectType})
	}
	return a
}

// parseAuditTime reads a time parameter, returning it and its text for a
// datetime-local input (or the text as typed when it is wrong).
func parseAuditTime(v, field string, errs map[string]string) (time.Time, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, ""
	}
	for _, layout := range auditTimeLayouts {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			t = t.UTC()
			text := t.Format("2006-01-02T15:04")
			if t.Second() != 0 || t.Nanosecond() != 0 {
				text = t.Format("2006-01-02T15:04:05")
			}
			return t, text
		}
	}
	errs[field] = "Not a date and time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)."
	return time.Time{}, v
}

// values is the filter as URL parameters, without the page.
func (a auditQuery) values() url.Values {
	v := url.Values{}
	f := a.filter
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("q", f.Text)
	set("actor", f.ActorID)
	set("subject_type", string(f.SubjectType))
	set("subject_id", f.SubjectID)
	for _, act := range f.Actions {
		v.Add("action", string(act))
	}
	set("from", a.form.From)
	set("to", a.form.To)
	return v
}

// url is a link to path with the filter and extra parameters.
func (a auditQuery) url(path string, extra ...string) string {
	v := a.values()
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// canonicalURL is the page's address without empty parameters, for the
// address bar after an htmx swap (a form sends every field, empty or not).
func (a auditQuery) canonicalURL() string {
	switch {
	case a.page.Before > 0:
		return a.url("/audit", "before", strconv.FormatInt(a.page.Before, 10))
	case a.page.After > 0 || a.page.Oldest:
		return a.url("/audit", "after", strconv.FormatInt(a.page.After, 10))
	}
	return a.url("/audit")
}

// auditResults is the list part of the page for one fetched page.
func auditResults(a auditQuery, page audit.Page, head audit.Head) templates.AuditResults {
	r := templates.AuditResults{
		ExportCSVURL:   a.url("/audit/export", "format", string(audit.FormatCSV)),
		ExportJSONLURL: a.url("/audit/export", "format", string(audit.FormatJSONL)),
	}
	for _, e := range page.Entries {
		r.Rows = append(r.Rows, auditRow(e))
	}
	if page.HasNewer {
		r.NewestURL = a.url("/audit")
		r.NewerURL = a.url("/audit", "after", strconv.FormatInt(page.NewerCursor, 10))
	}
	if page.HasOlder {
		r.OlderURL = a.url("/audit", "before", strconv.FormatInt(page.OlderCursor, 10))
		r.OldestURL = a.url("/audit", "after", "0")
	}
	total := templates.FormatCount(head.Events)
	switch {
	case len(page.Entries) == 0 && a.filter.IsZero() && head.Events == 0:
		r.Summary = "No events yet."
		r.Empty = "The audit log is empty. Events appear here as soon as anyone signs in or changes anything."
	case len(page.Entries) == 0 && (a.page.Before > 0 || a.page.After > 0):
		r.Summary = fmt.Sprintf("%s events in the log.", total)
		r.Empty = "No more events this way. Go back to the newest page."
	case len(page.Entries) == 0:
		r.Summary = fmt.Sprintf("%s events in the log.", total)
		r.Empty = "No event matches this filter. Widen it, or clear it to see everything."
	default:
		first, last := page.Entries[0].Seq, page.Entries[len(page.Entries)-1].Seq
		what := "events"
		if !a.filter.IsZero() {
			what = "matching events"
		}
		r.Summary = fmt.Sprintf("%d %s, #%s back to #%s, of %s in the log.", len(page.Entries), what,
			templates.FormatCount(first), templates.FormatCount(last), total)
	}
	return r
}

// auditRow is one event as the list shows it.
func auditRow(e audit.Entry) templates.AuditRow {
	subject := strings.ReplaceAll(string(e.Subject.Type), "_", " ")
	if e.Subject.ID != "" {
		subject += " " + e.Subject.ID
	}
	row := templates.AuditRow{
		Seq:              e.Seq,
		At:               e.At.Format(time.RFC3339Nano),
		AtText:           e.At.Format("2006-01-02 15:04:05 MST"),
		ActorName:        e.Actor.Name,
		ActorKind:        "person, id " + e.Actor.ID,
		ActorURL:         "/audit?" + url.Values{"actor": {e.Actor.ID}}.Encode(),
		Action:           string(e.Action),
		Subject:          subject,
		SubjectFilterURL: "/audit?" + url.Values{"subject_type": {string(e.Subject.Type)}, "subject_id": {e.Subject.ID}}.Encode(),
		Data:             indentJSON(e.Data),
		Hash:             e.Hash.String(),
		PrevHash:         e.PrevHash.String(),
		EventURL:         "/audit/events/" + strconv.FormatInt(e.Seq, 10),
	}
	if e.Actor.Type == audit.ActorSystem {
		row.ActorKind = "the portal itself"
	}
	if row.ActorName == "" {
		row.ActorName = e.Actor.ID
	}
	switch e.Subject.Type {
	case audit.SubjectRequest:
		row.SubjectURL = "/requests/" + url.PathEscape(e.Subject.ID)
	case audit.SubjectCluster:
		row.SubjectURL = "/clusters/" + url.PathEscape(e.Subject.ID)
	}
	if e.Subject.ID == "" {
		row.SubjectURL = ""
	}
	var origin []string
	if e.Origin.IP != "" {
		origin = append(origin, e.Origin.IP)
	}
	if e.Origin.RequestID != "" {
		origin = append(origin, "request "+e.Origin.RequestID)
	}
	row.Origin = strings.Join(origin, " · ")
	return row
}

func indentJSON(data []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, data, "", "  "); err != nil {
		return string(data)
	}
	return b.String()
}

// auditActor is the signed-in person as the audit log names them.
func auditActor(c echo.Context) audit.Actor {
	u, _ := auth.UserFrom(c.Request().Context()) // the audit routes require sign-in
	name := u.Name
	if name == "" {
		name = u.Username
	}
	return audit.User(strconv.FormatInt(u.ID, 10), name)
}

// auditOrigin is where the request came from.
func auditOrigin(c echo.Context) audit.Origin {
	return audit.Origin{IP: c.RealIP(), RequestID: RequestID(c)}
}
