package templates

import "github.com/a-h/templ"

// ClusterListView is the cluster list page: the filter form and the table.
type ClusterListView struct {
	Form    ClusterForm
	Results ClusterResults
	// LiveURL is the list's event stream; empty without live updates.
	LiveURL string
}

// ClusterForm holds the list's filter and order as asked for, with a
// message per field in error.
type ClusterForm struct {
	Name         string
	States       []ClusterOption
	Environments []ClusterOption
	// Teams are the team filter's choices (all, My clusters, each team,
	// unowned); none without teams. TeamParam is the chosen ?team=.
	Teams     []ClusterOption
	TeamParam string
	Sorts     []ClusterOption
	Desc      bool
	// Errors maps a field name (state, environment, name, sort, dir, page)
	// to what is wrong with it.
	Errors map[string]string
}

// ClusterOption is one choice of a select.
type ClusterOption struct {
	Value, Label string
	Selected     bool
}

// ClusterResults is the part of the list page a filter change replaces.
type ClusterResults struct {
	// Errors lists the filter's mistakes as sentences.
	Errors  []string
	Rows    []ClusterRow
	Summary string
	// Empty says what to do next when there is no row.
	Empty string
	// PrevURL and NextURL page through; empty when there is no such page.
	PrevURL, NextURL string
	// SelfURL is this page of the list, reloaded when a live update could
	// not be applied row by row.
	SelfURL string
	// Columns head the table; a sortable one links to the list sorted by it.
	Columns []ClusterColumn
}

// ClusterColumn is one heading of the cluster table.
type ClusterColumn struct {
	Label string
	// SortURL is the list sorted by this column (the other way round when
	// it already is); empty for a column that does not sort.
	SortURL string
	// AriaSort is "ascending" or "descending" for the column the list is
	// sorted by, else empty.
	AriaSort string
}

// ClusterRow is one cluster in the list.
type ClusterRow struct {
	UID, Name, URL string
	State          ClusterStateBadge
	Environment    string
	Team           string // the owning team; "" when unowned
	Version        string
	Servers        int
	Pending        int
	SyncedAt       string // RFC 3339, for <time>
	SyncedText     string // the same for people, before the script localises it
}

// ClusterStateBadge is a cluster's state in words with a class for its
// colour; the words carry the meaning, the colour only repeats it.
type ClusterStateBadge struct {
	Text  string
	Class string // state-ok, state-busy, state-off, state-gone, state-other
	// Unreadable is why the last sync could not read the cluster; when
	// set, a second badge "Unreadable" follows with the reason on hover
	// and for screen readers.
	Unreadable string
}

// ClusterShowView is the page of one cluster.
type ClusterShowView struct {
	// EmergencyURL is the break-glass form, for members of an emergency
	// group; Emergencies the cluster's changes awaiting their review.
	EmergencyURL string
	Emergencies  []AdminEmergencyRow
	UID, Name    string
	State        ClusterStateBadge
	Environment  string
	Team         string
	// Deleted is set when the API no longer lists the cluster.
	Deleted   bool
	DeletedAt TimeText
	// Unreadable is why the last sync could not read the cluster; the page
	// then shows the last readable copy and says so.
	Unreadable string
	Spec       ClusterSpecView
	Status     ClusterStatusView
	Servers    []ClusterServerRow
	Events     []ClusterEventRow
	Versions   []ClusterVersionRow
	// OlderVersionsURL lists the versions older than the ones shown;
	// empty when all are shown.
	OlderVersionsURL string
	Requests         []ClusterRequestRow
	// RequestsURL is the requests page filtered to this cluster's name.
	RequestsURL string
	RequestsCut bool // more requests exist than shown
	// Operations are the requests the cluster allows now, as links to
	// their forms.
	Operations []ClusterOperation
	// OperationsPerViewer: with teams, the operations depend on who looks,
	// so the section reloads itself (from SelfURL) instead of taking the
	// shared live redraw.
	OperationsPerViewer bool
	// SelfURL is the page's own address, from which the versions section
	// reloads itself when the stream says it changed; empty without live
	// updates.
	SelfURL string
	// LiveURL is the page's event stream; empty without live updates.
	LiveURL string
}

// TimeText is a moment for a <time data-relative> element.
type TimeText struct {
	At   string // RFC 3339
	Text string // for people, in UTC
}

// ClusterSpecView is the summary of a cluster's desired configuration.
type ClusterSpecView struct {
	Version         string
	DesiredState    string
	InstanceRole    string
	KeyPair         string
	EncryptVolumes  string // "yes", "no" or "not set"
	Tiers           []ClusterTierRow
	DeepStorage     string
	DeepEncrypt     string
	MetadataStore   string
	PivotAccess     string
	Extensions      []string
	Tags            []ClusterTag
	ResourceVersion int64
}

// ClusterTierRow is one group of servers the spec asks for.
type ClusterTierRow struct {
	Name         string // "Master", "Query", "Data tier 1"
	Replicas     string // a number, or "not set"
	InstanceType string
}

// ClusterTag is one AWS tag, its value as JSON text unless it is a string.
type ClusterTag struct {
	Name, Value string
}

// ClusterStatusView is what the API last reported about the cluster.
type ClusterStatusView struct {
	State         ClusterStateBadge
	Health        string
	Progress      string // "stage 2 of 5" while an update runs
	PublicLB      string
	PrivateLB     string
	SyncedAt      TimeText
	ChangedAt     TimeText
	FirstSeenAt   TimeText
	ServerCount   int
	UpdateRunning bool
}

// ClusterServerRow is one machine of the cluster.
type ClusterServerRow struct {
	NodeType, InstanceID, InstanceType, State, PrivateIP string
}

// ClusterEventRow is one entry of the cluster's log.
type ClusterEventRow struct {
	At      TimeText
	Level   string
	Source  string
	Message string
}

// ClusterRequestRow is one change request on the cluster.
type ClusterRequestRow struct {
	ID        int64
	URL       string // the request's page
	Kind      string
	State     string // in words
	StateCode string
	Requester string
	Reason    string
	FiledAt   TimeText
}

// cellID names a changeable cell of the row, for live updates.
func (r ClusterRow) cellID(what string) string { return "cluster-" + what + "-" + r.UID }

// orNotSet is s, or "not set" when it is empty.
func orNotSet(s string) string {
	if s == "" {
		return "not set"
	}
	return s
}

// attrs marks the column the list is sorted by.
func (c ClusterColumn) attrs() templ.Attributes {
	if c.AriaSort == "" {
		return templ.Attributes{}
	}
	return templ.Attributes{"aria-sort": c.AriaSort}
}

// LivePart is one named section of a live page: the page draws it inside
// an element with sse-swap="Name", and the live redraw sends it as the
// event Name.
type LivePart struct {
	Name      string
	Component templ.Component
}

// operationsAreaAttrs: the request buttons take the shared live redraw,
// or, when they depend on the viewer, reload themselves from the page.
func operationsAreaAttrs(v ClusterShowView) templ.Attributes {
	if v.OperationsPerViewer {
		return refreshAttrs(v.SelfURL, "#cluster-operations-area")
	}
	return templ.Attributes{"sse-swap": "cluster-operations"}
}

// ClusterLiveParts are the sections of the cluster page that every viewer
// shares, in page order: the live redraw sends each of them, so none can
// fall behind the others (the versions section depends on the viewer and
// reloads itself instead).
func ClusterLiveParts(v ClusterShowView) []LivePart {
	return []LivePart{
		{"cluster-state", ClusterStateBadgeFragment(v.State)},
		{"cluster-operations", ClusterOperations(v)},
		{"cluster-spec", ClusterSpec(v)},
		{"cluster-status", ClusterStatus(v)},
		{"cluster-servers", ClusterServers(v)},
		{"cluster-requests", ClusterRequests(v)},
		{"cluster-events", ClusterEvents(v)},
	}
}
