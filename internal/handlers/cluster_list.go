package handlers

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// clusterPageSize is how many clusters one page of the list shows.
const clusterPageSize = 50

// clusterList is the cluster list, read from the inventory only: however
// many people look, Cloud Manager gets no extra call. An htmx request (a
// filter change, a page link) gets only the table, whose URL it pushes; a
// browser without script gets the whole page from the same URL. A filter
// with mistakes answers 422 with the mistakes on the form.
func (s *Server) clusterList(c echo.Context) error {
	ctx := c.Request().Context()
	envs, err := inventory.Environments(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	q := parseClusterQuery(c.QueryParams(), envs, s.states)
	if err := s.clusterTeams(c, &q); err != nil {
		return err
	}
	status := http.StatusOK
	var results templates.ClusterResults
	if len(q.form.Errors) > 0 {
		status = http.StatusUnprocessableEntity
		results = templates.ClusterResults{Summary: "The filter needs attention.", Errors: clusterErrorList(q.form.Errors)}
	} else {
		f := q.filter
		f.Limit = clusterPageSize + 1
		list, err := inventory.ClusterList(ctx, s.deps.DB, f)
		if err != nil {
			return err
		}
		if q.filter.Before != "" {
			// Read backwards from the cursor; shown in the list's order.
			slices.Reverse(list)
		}
		uids := make([]string, 0, len(list))
		for _, cl := range list {
			uids = append(uids, cl.UID)
		}
		pending, err := approvals.PendingCounts(ctx, s.deps.DB, uids)
		if err != nil {
			return err
		}
		results = clusterResults(q, list, pending, s.states)
	}
	if isHTMX(c) && c.Request().Header.Get("HX-History-Restore-Request") != "true" {
		// A live reload of the results (HX-Trigger: its id) stays on the URL.
		if status == http.StatusOK && c.Request().Header.Get("HX-Trigger") != "cluster-results" {
			c.Response().Header().Set("HX-Push-Url", q.url())
		}
		return s.render(c, status, templates.ClusterResultsFragment(results))
	}
	view := templates.ClusterListView{Form: q.form, Results: results, LiveURL: s.liveURL("/clusters/events", "")}
	return s.render(c, status, templates.ClusterListPage(s.page(c, "Clusters"), view))
}

// clusterQuery is what the list's URL asks for: a filter, an order and a
// page: the first, or the one after or before a cluster (filter.After,
// filter.Before: keyset pages, by uid).
type clusterQuery struct {
	filter inventory.Filter
	form   templates.ClusterForm
}

var clusterSortLabels = map[inventory.SortKey]string{
	inventory.SortName: "name", inventory.SortState: "state", inventory.SortEnvironment: "environment",
	inventory.SortVersion: "Imply version", inventory.SortServers: "server count",
	inventory.SortSynced: "last synced", inventory.SortChanged: "last changed",
}

// maxNameFilter bounds the name filter; cluster names are far shorter.
const maxNameFilter = 200

// maxCursor bounds a page link's cluster uid.
const maxCursor = 200

// parseClusterQuery reads the URL's parameters. Mistakes become messages
// on the form's fields, never a silently different filter.
func parseClusterQuery(v url.Values, envs []string, states clusterStates) clusterQuery {
	q := clusterQuery{}
	errs := map[string]string{}
	f := &q.filter

	f.Name = strings.TrimSpace(v.Get("name"))
	if len([]rune(f.Name)) > maxNameFilter {
		errs["name"] = fmt.Sprintf("Type at most %d characters.", maxNameFilter)
	}
	if st := strings.TrimSpace(v.Get("state")); st != "" {
		f.State = cloudapi.ClusterState(strings.ToUpper(st))
		if !slices.Contains(states.offered(), f.State) {
			errs["state"] = fmt.Sprintf("There is no state %q.", st)
		}
	}
	f.Environment = strings.TrimSpace(v.Get("environment"))
	if s := v.Get("sort"); s != "" {
		f.Sort = inventory.SortKey(s)
		if !slices.Contains(inventory.SortKeys(), f.Sort) {
			errs["sort"] = fmt.Sprintf("Cannot sort by %q.", s)
		}
	}
	switch v.Get("dir") {
	case "", "asc":
	case "desc":
		f.Desc = true
	default:
		errs["dir"] = "Choose ascending or descending."
	}
	f.After, f.Before = v.Get("after"), v.Get("before")
	if f.After != "" && f.Before != "" || len(f.After) > maxCursor || len(f.Before) > maxCursor {
		errs["page"] = "That page link is broken: start again from the first page."
		f.After, f.Before = "", ""
	}

	q.form = templates.ClusterForm{Name: f.Name, Desc: f.Desc, Errors: errs}
	for _, st := range states.offered() {
		q.form.States = append(q.form.States, templates.ClusterOption{
			Value: string(st), Label: states.badge(st, false, "").Text, Selected: st == f.State})
	}
	if f.Environment != "" && !slices.Contains(envs, f.Environment) {
		// Keep a bookmarked environment that has no cluster left selectable.
		envs = append(slices.Clone(envs), f.Environment)
	}
	for _, e := range envs {
		q.form.Environments = append(q.form.Environments, templates.ClusterOption{Value: e, Label: e, Selected: e == f.Environment})
	}
	sortKey := f.Sort
	if sortKey == "" {
		sortKey = inventory.SortName
	}
	for _, k := range inventory.SortKeys() {
		q.form.Sorts = append(q.form.Sorts, templates.ClusterOption{Value: string(k), Label: clusterSortLabels[k], Selected: k == sortKey})
	}
	return q
}

// url is the list's canonical address: parameters at their default are
// left out, so equal views have equal URLs.
func (q clusterQuery) url() string {
	v := url.Values{}
	f := q.filter
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("name", f.Name)
	set("state", string(f.State))
	set("environment", f.Environment)
	set("team", q.form.TeamParam)
	if f.Sort != "" && f.Sort != inventory.SortName {
		v.Set("sort", string(f.Sort))
	}
	if f.Desc {
		v.Set("dir", "desc")
	}
	set("after", f.After)
	set("before", f.Before)
	if len(v) == 0 {
		return "/clusters"
	}
	return "/clusters?" + v.Encode()
}

func (q clusterQuery) filtered() bool {
	f := q.filter
	return f.Name != "" || f.State != "" || f.Environment != "" || f.Team != "" || f.Teams != nil
}

// at is q's list on another page: the first, or the one after or before
// the cluster with uid after or before.
func (q clusterQuery) at(after, before string) clusterQuery {
	q.filter.After, q.filter.Before = after, before
	return q
}

// clusterResults is the table part of the page for one fetched page, which
// holds up to one cluster more than a page (beyond its far end) to tell
// whether another page follows that way.
func clusterResults(q clusterQuery, list []inventory.Summary, pending map[string]int, states clusterStates) templates.ClusterResults {
	var r templates.ClusterResults
	backwards := q.filter.Before != ""
	more := len(list) > clusterPageSize
	if more && backwards {
		list = list[len(list)-clusterPageSize:]
	} else if more {
		list = list[:clusterPageSize]
	}
	if len(list) > 0 {
		first, last := list[0].UID, list[len(list)-1].UID
		// A page read from a cursor has that cluster beyond it.
		if more || backwards {
			r.NextURL = q.at(last, "").url()
		}
		if more && backwards || q.filter.After != "" {
			r.PrevURL = q.at("", first).url()
		}
	} else if q.filter.After != "" || backwards {
		r.PrevURL = q.at("", "").url()
	}
	for _, cl := range list {
		r.Rows = append(r.Rows, templates.ClusterRow{
			UID: cl.UID, Name: cl.Name, URL: clusterURL(cl.UID),
			State:       states.badge(cl.State, !cl.DeletedAt.IsZero(), cl.Unreadable),
			Environment: cl.Environment, Team: cl.Team, Version: cl.Version, Servers: cl.ServerCount,
			Pending:  pending[cl.UID],
			SyncedAt: cl.SyncedAt.UTC().Format(time.RFC3339), SyncedText: cl.SyncedAt.UTC().Format("2006-01-02 15:04:05 MST"),
		})
	}
	r.Columns = clusterColumns(q)
	r.SelfURL = q.url()
	firstPage := q.filter.After == "" && q.filter.Before == ""
	switch {
	case len(list) == 0 && !firstPage:
		r.Summary = "No clusters on this page."
		r.Empty = "The list is shorter now. Go back to the first page."
	case len(list) == 0 && q.filtered():
		r.Summary = "No matching clusters."
		r.Empty = "No cluster matches this filter. Widen it, or clear it to see every cluster."
	case len(list) == 0:
		r.Summary = "No clusters yet."
		r.Empty = "The inventory is empty. The portal copies the clusters from Cloud Manager in the background; " +
			"if none appear within a minute, check the portal's Cloud Manager settings and its log."
	default:
		word := "clusters"
		if len(list) == 1 {
			word = "cluster"
		}
		if q.filtered() {
			word = "matching " + word
		}
		r.Summary = fmt.Sprintf("%s %s.", fmtCount(len(list)), word)
		if r.NextURL != "" || r.PrevURL != "" {
			r.Summary = fmt.Sprintf("%s %s on this page.", fmtCount(len(list)), word)
		}
	}
	return r
}

func fmtCount(n int) string { return templates.FormatCount(int64(n)) }

// clusterURL is the stable address of a cluster's page.
func clusterURL(uid string) string { return "/clusters/" + url.PathEscape(uid) }

// clusterStates names a cluster's status.state as the configuration does
// (PORTAL_CLOUD_RUNNING_STATES, _STOPPED_STATES, _BUSY_STATES): a tenant
// that says RUNNING shows "Running" as running.
type clusterStates struct{ b cloudapi.Behaviour }

func newClusterStates(b cloudapi.Behaviour) clusterStates { return clusterStates{b.WithDefaults()} }

// offered are the states the filter offers, in lifecycle order: running,
// busy, stopped.
func (s clusterStates) offered() []cloudapi.ClusterState {
	return slices.Concat(s.b.RunningStates, s.b.BusyStates, s.b.StoppedStates)
}

// busy reports whether st is a state of a cluster applying a change.
func (s clusterStates) busy(st cloudapi.ClusterState) bool { return s.b.Busy(st) }

// badge says a cluster's state in words; the class only repeats it.
// unreadable is why the last sync could not read the cluster, empty when
// it could.
func (s clusterStates) badge(st cloudapi.ClusterState, deleted bool, unreadable string) templates.ClusterStateBadge {
	b := s.stateBadge(st, deleted)
	b.Unreadable = unreadable
	return b
}

func (s clusterStates) stateBadge(st cloudapi.ClusterState, deleted bool) templates.ClusterStateBadge {
	if deleted {
		return templates.ClusterStateBadge{Text: "Deleted", Class: "state-gone"}
	}
	word := strings.ToLower(string(st))
	switch {
	case st == "":
		return templates.ClusterStateBadge{Text: "Unknown", Class: "state-other"}
	case s.b.Running(st):
		return templates.ClusterStateBadge{Text: capitalise(word), Class: "state-ok"}
	case s.b.Stopped(st):
		return templates.ClusterStateBadge{Text: capitalise(word), Class: "state-off"}
	case s.b.Busy(st):
		return templates.ClusterStateBadge{Text: capitalise(word), Class: "state-busy"}
	}
	return templates.ClusterStateBadge{Text: word, Class: "state-other"}
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// clusterErrorList is the filter's errors as sentences, in a stable order.
func clusterErrorList(errs map[string]string) []string {
	var out []string
	for _, field := range []string{"name", "state", "environment", "sort", "dir", "page"} {
		if msg, ok := errs[field]; ok {
			out = append(out, clusterFieldLabels[field]+": "+msg)
		}
	}
	return out
}

var clusterFieldLabels = map[string]string{
	"name": "Name", "state": "State", "environment": "Environment", "sort": "Sort by", "dir": "Order", "page": "Page",
}

// clusterColumns heads the table. A sortable heading links to the list,
// same filter, first page, sorted by its column: ascending, or descending
// when the list already sorts ascending by it.
func clusterColumns(q clusterQuery) []templates.ClusterColumn {
	current := cmp.Or(q.filter.Sort, inventory.SortName)
	cols := []struct {
		label string
		key   inventory.SortKey
	}{
		{"Name", inventory.SortName}, {"State", inventory.SortState}, {"Environment", inventory.SortEnvironment}, {"Team", ""},
		{"Imply version", inventory.SortVersion}, {"Servers", inventory.SortServers},
		{"Open requests", ""}, {"Last synced", inventory.SortSynced},
	}
	out := make([]templates.ClusterColumn, 0, len(cols))
	for _, col := range cols {
		c := templates.ClusterColumn{Label: col.label}
		if col.key != "" {
			sorted := q
			sorted.filter.Sort, sorted.filter.Desc = col.key, false
			if col.key == current {
				c.AriaSort = "ascending"
				if q.filter.Desc {
					c.AriaSort = "descending"
				}
				sorted.filter.Desc = !q.filter.Desc
			}
			c.SortURL = sorted.at("", "").url()
		}
		out = append(out, c)
	}
	return out
}
