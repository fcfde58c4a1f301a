package handlers

import (
	"bytes"
	"cmp"
	"context"
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
	// person is the person parameter as typed (a username, a display name
	// or part of one); actor the older actor parameter (a user id or a
	// system component), honoured when person is empty.
	person, actor string
	// people is whom person or actor names, once resolved, and how.
	people []filterActor
	match  auth.PersonMatch
}

// filterActor is one actor the filter selects, as the page names them.
type filterActor struct {
	id, name, username string
}

func (a filterActor) label() string {
	if a.username != "" && a.username != a.name {
		return a.name + " (" + a.username + ")"
	}
	return a.name
}

// auditTimeLayouts are the time formats the from and to parameters accept,
// all read as UTC: what <input type="datetime-local"> sends, a plain date,
// and RFC 3339.
var auditTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339Nano}

// minTextLength is the shortest free-text search: trigram indexes need three
// characters, and shorter text would scan the whole log.
const minTextLength = 3

// parseAuditQuery reads the URL's parameters. Mistakes become messages on
// the form's fields, never a silently different filter. The person is only
// read here: resolveAuditActors finds who it names.
func parseAuditQuery(q url.Values) auditQuery {
	var a auditQuery
	errs := map[string]string{}
	f := &a.filter

	a.person = strings.TrimSpace(q.Get("person"))
	a.actor = strings.TrimSpace(q.Get("actor"))
	f.Cluster = strings.TrimSpace(q.Get("cluster"))
	requestText := strings.TrimPrefix(strings.TrimSpace(q.Get("request")), "#")
	if requestText != "" {
		n, err := strconv.ParseInt(requestText, 10, 64)
		if err != nil || n <= 0 {
			errs["request"] = fmt.Sprintf("%q is not a request number: type one like 42.", q.Get("request"))
		}
		f.Request = max(n, 0)
	}
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
		Person: cmp.Or(a.person, a.actor), Cluster: f.Cluster, Request: requestText,
		SubjectType: string(f.SubjectType), SubjectID: f.SubjectID,
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

// resolveAuditActors finds whom the person (or the older actor) parameter
// names and narrows the filter to them. Nobody, or too many people, is a
// message on the person field.
func resolveAuditActors(ctx context.Context, db auth.PeopleQuerier, a *auditQuery) error {
	switch {
	case a.person != "":
		if sys, ok := audit.SystemActorNamed(a.person); ok {
			a.people, a.match = []filterActor{{id: sys.ID, name: sys.Name}}, auth.MatchName
			break
		}
		people, match, err := auth.PeopleMatching(ctx, db, a.person)
		if err != nil {
			return err
		}
		switch {
		case len(people) == 0:
			a.form.Errors["person"] = fmt.Sprintf("Nobody called %q has signed in: type a username or a name, e.g. alice or Alice Anderson.", a.person)
			return nil
		case len(people) > auth.MaxPeopleMatching:
			a.form.Errors["person"] = fmt.Sprintf("More than %d people match %q: type more of the name.", auth.MaxPeopleMatching, a.person)
			return nil
		}
		a.match = match
		for _, p := range people {
			a.people = append(a.people, filterActor{id: strconv.FormatInt(p.ID, 10), name: p.DisplayName(), username: p.Username})
		}
	case a.actor != "":
		// An older link: an actor's id, exactly.
		who := filterActor{id: a.actor, name: a.actor}
		if sys, ok := audit.SystemActorNamed(a.actor); ok && sys.ID == a.actor {
			who.name = sys.Name
		} else if id, err := strconv.ParseInt(a.actor, 10, 64); err == nil {
			people, err := auth.PeopleByID(ctx, db, []int64{id})
			if err != nil {
				return err
			}
			if p, ok := people[id]; ok {
				who.name, who.username = p.DisplayName(), p.Username
				a.form.Person = p.Username
			}
		}
		a.people, a.match = []filterActor{who}, auth.MatchID
	default:
		return nil
	}
	for _, p := range a.people {
		a.filter.Actors = append(a.filter.Actors, p.id)
	}
	return nil
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
	if a.person != "" {
		set("person", a.person)
	} else {
		set("actor", a.actor)
	}
	set("cluster", f.Cluster)
	if f.Request > 0 {
		set("request", strconv.FormatInt(f.Request, 10))
	}
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
	return withQuery(path, v)
}

// without is a link to the first page of the filter less some parameters.
func (a auditQuery) without(params ...string) string {
	v := a.values()
	for _, p := range params {
		v.Del(p)
	}
	return withQuery("/audit", v)
}

func withQuery(path string, v url.Values) string {
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

// activeFilters says what the filter is, one removable part at a time.
func (a auditQuery) activeFilters() []templates.AuditActiveFilter {
	var out []templates.AuditActiveFilter
	add := func(field, value, note string, params ...string) {
		out = append(out, templates.AuditActiveFilter{Field: field, Value: value, Note: note, RemoveURL: a.without(params...)})
	}
	f := a.filter
	if len(a.people) == 1 {
		add("person", a.people[0].label(), personMatchNote(a.person, a.match), "person", "actor")
	} else if len(a.people) > 1 {
		add("person", fmt.Sprintf("%d people match %q", len(a.people), a.person), "any of them", "person", "actor")
	}
	if f.Cluster != "" {
		add("cluster", f.Cluster, "its own events and its requests'", "cluster")
	}
	if f.Request > 0 {
		add("request", "#"+strconv.FormatInt(f.Request, 10), "with its submission", "request")
	}
	if f.Text != "" {
		add("text", strconv.Quote(f.Text), "in the details", "q")
	}
	if f.SubjectType != "" || f.SubjectID != "" {
		add("subject", strings.TrimSpace(strings.ReplaceAll(string(f.SubjectType), "_", " ")+" "+f.SubjectID), "", "subject_type", "subject_id")
	}
	if len(f.Actions) > 0 {
		names := make([]string, len(f.Actions))
		for i, act := range f.Actions {
			names[i] = string(act)
		}
		add("actions", strings.Join(names, ", "), "", "action")
	}
	if a.form.From != "" {
		add("from", a.form.From+" UTC", "", "from")
	}
	if a.form.To != "" {
		add("until", a.form.To+" UTC", "", "to")
	}
	return out
}

// personMatchNote says how the typed text found the person.
func personMatchNote(typed string, m auth.PersonMatch) string {
	switch m {
	case auth.MatchUsername:
		return "by username"
	case auth.MatchName:
		return "by name"
	case auth.MatchPartial:
		return fmt.Sprintf("%q is part of the name", typed)
	}
	return ""
}

// personChoices narrows a person filter that found several people to one.
func (a auditQuery) personChoices() []templates.AuditLink {
	if len(a.people) < 2 {
		return nil
	}
	var out []templates.AuditLink
	for _, p := range a.people {
		out = append(out, templates.AuditLink{Label: p.label(), URL: withQuery("/audit", func() url.Values {
			v := a.values()
			v.Del("person")
			v.Set("actor", p.id)
			return v
		}())})
	}
	return out
}

// auditResults is the list part of the page for one fetched page; people
// names the people the events mention.
func auditResults(a auditQuery, page audit.Page, head audit.Head, people map[int64]auth.Person) templates.AuditResults {
	r := templates.AuditResults{
		ExportCSVURL:   a.url("/audit/export", "format", string(audit.FormatCSV)),
		ExportJSONLURL: a.url("/audit/export", "format", string(audit.FormatJSONL)),
		Active:         a.activeFilters(),
		PersonChoices:  a.personChoices(),
	}
	for _, e := range page.Entries {
		r.Rows = append(r.Rows, auditRow(e, people))
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
	case len(page.Entries) == 0 && a.filter.Cluster != "" && len(r.Active) == 1:
		r.Summary = fmt.Sprintf("%s events in the log.", total)
		r.Empty = fmt.Sprintf("No event names a cluster called %q. Check the name: the suggestions list every cluster Clusterdesk has seen.", a.filter.Cluster)
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

// auditPeopleIDs are the user ids a page's events mention, as actor or
// subject, for naming them.
func auditPeopleIDs(entries []audit.Entry) []int64 {
	var ids []int64
	for _, e := range entries {
		for _, s := range []string{actorUserID(e), subjectUserID(e)} {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func actorUserID(e audit.Entry) string {
	if e.Actor.Type == audit.ActorUser {
		return e.Actor.ID
	}
	return ""
}

func subjectUserID(e audit.Entry) string {
	if e.Subject.Type == audit.SubjectUser {
		return e.Subject.ID
	}
	return ""
}

// auditRow is one event as the list shows it: people by their name (now),
// with their username beside it; the portal's own parts by theirs.
func auditRow(e audit.Entry, people map[int64]auth.Person) templates.AuditRow {
	subject := strings.ReplaceAll(string(e.Subject.Type), "_", " ")
	if e.Subject.ID != "" {
		subject += " " + e.Subject.ID
	}
	row := templates.AuditRow{
		Seq:              e.Seq,
		At:               e.At.Format(time.RFC3339Nano),
		AtText:           e.At.Format("2006-01-02 15:04:05 MST"),
		ActorName:        cmp.Or(e.Actor.Name, e.Actor.ID),
		ActorKind:        "a person",
		ActorURL:         "/audit?" + url.Values{"actor": {e.Actor.ID}}.Encode(),
		Action:           string(e.Action),
		Subject:          subject,
		SubjectFilterURL: "/audit?" + url.Values{"subject_type": {string(e.Subject.Type)}, "subject_id": {e.Subject.ID}}.Encode(),
		Data:             indentJSON(e.Data),
		Hash:             e.Hash.String(),
		PrevHash:         e.PrevHash.String(),
		EventURL:         "/audit/events/" + strconv.FormatInt(e.Seq, 10),
		Pending:          e.Pending(),
	}
	if p, ok := personOf(actorUserID(e), people); ok {
		row.ActorName, row.ActorUsername = p.DisplayName(), p.Username
		row.ActorKind = "username " + p.Username
	}
	switch {
	case e.Actor.Type == audit.ActorSystem:
		row.ActorKind = "the portal itself"
	case e.Actor.ID == audit.Anonymous.ID:
		row.ActorKind = "someone not signed in"
	}
	if name := clusterNameIn(e.Data); name != "" {
		row.ClusterName, row.ClusterFilterURL = name, "/audit?"+url.Values{"cluster": {name}}.Encode()
	}
	switch e.Subject.Type {
	case audit.SubjectRequest:
		row.SubjectURL = "/requests/" + url.PathEscape(e.Subject.ID)
		// In the words and states of the request page's timeline.
		var data map[string]any
		_ = json.Unmarshal(e.Data, &data)
		said := templates.RequestActionText(string(e.Action), row.ActorName, data)
		if said.Sentence != string(e.Action) {
			row.Said = said.Sentence
		}
		row.State = said.State
		if _, err := strconv.ParseInt(e.Subject.ID, 10, 64); err == nil {
			row.SubjectFilterURL = "/audit?" + url.Values{"request": {e.Subject.ID}}.Encode()
		}
	case audit.SubjectCluster:
		row.SubjectURL = "/clusters/" + url.PathEscape(e.Subject.ID)
	case audit.SubjectUser:
		row.Subject = "someone not signed in"
		if p, ok := personOf(e.Subject.ID, people); ok {
			row.Subject = "person " + p.DisplayName()
		} else if e.Subject.ID != "" {
			row.Subject = "person " + e.Subject.ID
		}
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

// clusterNameIn is the cluster an event's details name, or "".
func clusterNameIn(data []byte) string {
	var d struct {
		ClusterName string `json:"cluster_name"`
	}
	if json.Unmarshal(data, &d) != nil {
		return ""
	}
	return d.ClusterName
}

func personOf(id string, people map[int64]auth.Person) (auth.Person, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return auth.Person{}, false
	}
	p, ok := people[n]
	return p, ok
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
