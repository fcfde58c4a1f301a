package templates

import (
	"github.com/a-h/templ"
)

// RequestsListView is the requests page: the filter and one page of
// requests.
type RequestsListView struct {
	Form    RequestsForm
	Results RequestsResults
}

// RequestsForm holds the filter as typed, with a message per field in
// error.
type RequestsForm struct {
	Mine, Waiting bool
	// CanWait shows "Waiting on me" (the viewer holds the approver role,
	// or the URL asks for it).
	CanWait              bool
	Cluster, Person      string
	From, To             string // YYYY-MM-DD, as typed when wrong
	Kinds                []RequestsOption
	States               []RequestsOption
	ClusterNames, People []string // suggestions
	Errors               map[string]string
}

// RequestsOption is one choice of a select or a group of checkboxes.
type RequestsOption = AuditOption

// RequestsResults is the part of the page that a filter change replaces.
type RequestsResults struct {
	// Errors lists the filter's mistakes, each naming its field.
	Errors []string
	Rows   []RequestsRow
	// Summary says how many match, e.g. "132 requests match this filter".
	Summary string
	// Empty says what to do when nothing is listed; EmptyLink and
	// EmptyLinkText offer the next step.
	Empty, EmptyLink, EmptyLinkText string
	// NewestURL, NewerURL and OlderURL page through; empty when there is
	// no such page.
	NewestURL, NewerURL, OlderURL string
}

// RequestsRow is one request in the list.
type RequestsRow struct {
	ID          int64
	URL         string
	Kind        string
	ClusterName string
	// ClusterURL is the cluster's page; empty while a create request's
	// cluster does not exist.
	ClusterURL string
	Requester  string
	State      string // in words
	StateCode  string
	Filed      TimeText
	// Waits says what the request waits for: "1 of 2 approvals",
	// "nothing".
	Waits string
}

// currentPage marks the navigation entry of the page being shown.
func currentPage(current bool) templ.Attributes {
	if !current {
		return templ.Attributes{}
	}
	return templ.Attributes{"aria-current": "page"}
}
