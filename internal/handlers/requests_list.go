package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// requestsPageSize is how many requests one page of the list shows.
const requestsPageSize = 25

// requestsCountedUpTo bounds the count of matching requests.
const requestsCountedUpTo = 10000

// requestsList is the list of change requests, for everyone who may read
// one (the request page's rule: signed in with a role). An htmx request
// (a filter change, a page link) gets only the results, whose URL it
// pushes; a browser without script gets the whole page from the same URL.
// A filter with mistakes answers 422 with the mistakes named by field, as every form does.
func (s *Server) requestsList(c echo.Context) error {
	ctx := c.Request().Context()
	viewer := actorOf(c)
	q := parseRequestsQuery(c.QueryParams(), viewer)
	status := http.StatusOK
	var results templates.RequestsResults
	if len(q.form.Errors) > 0 {
		status = http.StatusUnprocessableEntity
		results = templates.RequestsResults{Summary: "The filter needs attention.", Errors: requestsErrorList(q.form.Errors)}
	} else {
		page, err := approvals.List(ctx, s.deps.DB, q.filter, q.at, requestsPageSize)
		if err != nil {
			return err
		}
		total, err := approvals.Count(ctx, s.deps.DB, q.filter, requestsCountedUpTo)
		if err != nil {
			return err
		}
		results = requestsResults(q, page, total, viewer)
	}
	if isHTMX(c) && c.Request().Header.Get("HX-History-Restore-Request") != "true" {
		if status == http.StatusOK {
			c.Response().Header().Set("HX-Push-Url", q.url(q.at))
		}
		return s.render(c, status, templates.RequestsResultsFragment(results))
	}
	var err error
	if q.form.ClusterNames, err = approvals.ClusterNames(ctx, s.deps.DB); err != nil {
		return err
	}
	if q.form.People, err = approvals.RequesterNames(ctx, s.deps.DB); err != nil {
		return err
	}
	view := templates.RequestsListView{Form: q.form, Results: results}
	return s.render(c, status, templates.RequestsListPage(s.page(c, "Requests"), view))
}

// requestsQuery is what the list's URL asks for: a filter and a page.
type requestsQuery struct {
	filter approvals.Filter
	at     approvals.Cursor
	form   templates.RequestsForm
}

// maxRequestsText bounds the cluster and person filters.
const maxRequestsText = 200

// parseRequestsQuery reads the URL's parameters for viewer. Mistakes
// become messages on the form's fields, never a silently different filter.
func parseRequestsQuery(v url.Values, viewer approvals.Actor) requestsQuery {
	var q requestsQuery
	errs := map[string]string{}
	f := &q.filter
	form := &q.form
	form.Mine, form.Waiting = v.Get("mine") != "", v.Get("waiting") != ""
	form.CanWait = viewer.Approver || form.Waiting
	if form.Mine {
		f.RequesterID = viewer.UserID
	}
	if form.Waiting {
		f.AwaitingFor = &viewer
	}
	form.Cluster, form.Person = strings.TrimSpace(v.Get("cluster")), strings.TrimSpace(v.Get("person"))
	f.ClusterName, f.Person = form.Cluster, form.Person
	for field, text := range map[string]string{"cluster": form.Cluster, "person": form.Person} {
		if len([]rune(text)) > maxRequestsText {
			errs[field] = fmt.Sprintf("Type at most %d characters.", maxRequestsText)
		}
	}
	if k := v.Get("kind"); k != "" {
		f.Kind = approvals.Kind(k)
		if !f.Kind.Supported() {
			errs["kind"] = fmt.Sprintf("There is no kind %q.", k)
		}
	}
	for _, name := range v["state"] {
		if st := approvals.State(name); !st.Valid() {
			errs["state"] = fmt.Sprintf("There is no state %q.", name)
		} else if !slices.Contains(f.States, st) {
			f.States = append(f.States, st)
		}
	}
	var from, to time.Time
	from, form.From = parseRequestsDate(v.Get("from"), "from", errs)
	to, form.To = parseRequestsDate(v.Get("to"), "to", errs)
	f.FiledFrom = from
	if !to.IsZero() {
		f.FiledBefore = to.AddDate(0, 0, 1) // the whole day of "until"
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		errs["to"] = "Must be on or after Filed from."
	}
	for _, p := range []struct {
		name  string
		newer bool
	}{{"before", false}, {"after", true}} {
		if key := v.Get(p.name); key != "" {
			at, err := approvals.ParseCursor(key, p.newer)
			if err != nil {
				errs["page"] = "That page link is broken: start again from the newest page."
			}
			q.at = at
		}
	}

	form.Errors = errs
	for _, k := range approvals.Kinds() {
		form.Kinds = append(form.Kinds, templates.RequestsOption{Value: string(k), Label: kindWords(k), Selected: k == f.Kind})
	}
	for _, st := range approvals.States() {
		form.States = append(form.States, templates.RequestsOption{
			Value: string(st), Label: requestStateText(st), Selected: slices.Contains(f.States, st)})
	}
	return q
}

// parseRequestsDate reads a date parameter (YYYY-MM-DD, UTC), returning it
// and its text for a date input (or the text as typed when it is wrong).
func parseRequestsDate(v, field string, errs map[string]string) (time.Time, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, ""
	}
	t, err := time.ParseInLocation(time.DateOnly, v, time.UTC)
	if err != nil {
		errs[field] = "Not a date: use YYYY-MM-DD."
		return time.Time{}, v
	}
	return t, v
}

// url is the list's canonical address at page at: parameters at their
// default are left out, so equal views have equal URLs.
func (q requestsQuery) url(at approvals.Cursor) string {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.form.Mine {
		v.Set("mine", "1")
	}
	if q.form.Waiting {
		v.Set("waiting", "1")
	}
	set("cluster", q.form.Cluster)
	set("person", q.form.Person)
	set("kind", string(q.filter.Kind))
	for _, st := range q.filter.States {
		v.Add("state", string(st))
	}
	set("from", q.form.From)
	set("to", q.form.To)
	switch {
	case at.IsZero():
	case at.Newer:
		v.Set("after", at.Key())
	default:
		v.Set("before", at.Key())
	}
	if len(v) == 0 {
		return "/requests"
	}
	return "/requests?" + v.Encode()
}

// requestsResults is the list part of the page for one fetched page.
func requestsResults(q requestsQuery, page approvals.Listing, total int, viewer approvals.Actor) templates.RequestsResults {
	var r templates.RequestsResults
	for _, l := range page.Requests {
		r.Rows = append(r.Rows, requestsRow(l))
	}
	if page.Newer != nil {
		r.NewestURL, r.NewerURL = q.url(approvals.Cursor{}), q.url(*page.Newer)
	}
	if page.Older != nil {
		r.OlderURL = q.url(*page.Older)
	}
	filtered := !q.filter.IsZero()
	what := "requests"
	if total == 1 {
		what = "request"
	}
	count := fmtCount(total)
	if total > requestsCountedUpTo {
		count = "More than " + fmtCount(requestsCountedUpTo)
	}
	switch {
	case total == 0 && !filtered:
		r.Summary = "No requests yet."
		r.Empty = "Nobody has filed a change request yet. Open a cluster and request a change there:"
		r.EmptyLink, r.EmptyLinkText = "/clusters", "the cluster list"
	case total == 0 && q.filter.AwaitingFor != nil && !viewer.Approver:
		r.Summary = "No matching requests."
		r.Empty = "Nothing waits on you: you do not hold the approver role. Untick “Waiting on me” to see the others."
	case total == 0:
		r.Summary = "No matching requests."
		r.Empty = "No request matches this filter. Widen it, or clear it to see every request."
		r.EmptyLink, r.EmptyLinkText = "/requests", "Clear the filter"
	case len(r.Rows) == 0:
		r.Summary = fmt.Sprintf("%s %s.", count, what)
		r.Empty = "No more requests this way."
		r.EmptyLink, r.EmptyLinkText = q.url(approvals.Cursor{}), "Go back to the newest page"
	case filtered:
		r.Summary = fmt.Sprintf("%s %s match this filter; this page shows %d, newest filed first.", count, what, len(r.Rows))
		if total == 1 {
			r.Summary = "1 request matches this filter."
		}
	default:
		r.Summary = fmt.Sprintf("%s %s in all; this page shows %d, newest filed first.", count, what, len(r.Rows))
	}
	return r
}

// requestsRow is one request as the list shows it.
func requestsRow(l approvals.Listed) templates.RequestsRow {
	row := templates.RequestsRow{
		ID: l.ID, URL: requestURL(l.ID), Kind: kindWords(l.Kind), ClusterName: l.ClusterName,
		Requester: l.Requester.Name, State: requestStateText(l.State), StateCode: string(l.State),
		Filed: timeText(l.CreatedAt), Waits: requestWaits(l),
	}
	if l.ClusterUID != "" {
		row.ClusterURL = clusterURL(l.ClusterUID)
	}
	return row
}

// requestWaits says what a request waits for, in a few words.
func requestWaits(l approvals.Listed) string {
	switch l.State {
	case approvals.StatePending:
		if !l.HasPolicy {
			return "a policy: none matches"
		}
		return fmt.Sprintf("%d of %d approvals", l.Given, l.Needed)
	case approvals.StateStale:
		return "a rebase by the requester"
	case approvals.StateApproved:
		return "to be sent to Cloud Manager"
	case approvals.StateSubmitting, approvals.StateApplying:
		return "Cloud Manager"
	case approvals.StateFailed:
		return "an admin: send again or close"
	}
	return "nothing"
}

// requestURL is the stable address of a request's page.
func requestURL(id int64) string { return fmt.Sprintf("/requests/%d", id) }

// kindWords says a request's kind for people: "restart server".
func kindWords(k approvals.Kind) string { return strings.ReplaceAll(string(k), "_", " ") }

// requestsErrorList is the filter's errors as sentences naming their
// field, in the form's order.
func requestsErrorList(errs map[string]string) []string {
	var out []string
	for _, field := range []string{"cluster", "person", "kind", "from", "to", "state", "page"} {
		if msg, ok := errs[field]; ok {
			out = append(out, requestsFieldLabels[field]+": "+msg)
		}
	}
	return out
}

var requestsFieldLabels = map[string]string{
	"cluster": "Cluster name", "person": "Filed by", "kind": "Kind", "from": "Filed from", "to": "Filed until",
	"state": "States", "page": "Page",
}
