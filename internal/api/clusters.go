package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Page sizes of every list: limit is 1 to MaxPageSize, DefaultPageSize
// when absent; a larger one is refused (400), not quietly cut.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// pageSize reads ?limit.
func pageSize(c echo.Context) (int, error) {
	raw := c.QueryParam("limit")
	if raw == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > MaxPageSize {
		p := problem(http.StatusBadRequest, "invalid-parameter", "limit is a page size from 1 to "+strconv.Itoa(MaxPageSize)+".")
		p.Errors = []FieldProblem{{Target: "limit", Message: "from 1 to " + strconv.Itoa(MaxPageSize)}}
		return 0, p
	}
	return n, nil
}

// ClusterSummary is a cluster in the list.
type ClusterSummary struct {
	UID             string     `json:"uid"`
	Name            string     `json:"name"`
	State           string     `json:"state"`
	DesiredState    string     `json:"desired_state"`
	Version         string     `json:"version"`
	Servers         int        `json:"servers"`
	Environment     string     `json:"environment"`
	Team            string     `json:"team"`
	ResourceVersion int64      `json:"resource_version"`
	SyncedAt        time.Time  `json:"synced_at"`
	ChangedAt       time.Time  `json:"changed_at"`
	DeletedAt       *time.Time `json:"deleted_at,omitempty"`
}

// ClusterPage is one page of clusters; Next is the cursor of the next
// page (pass it as ?after), absent on the last page.
type ClusterPage struct {
	Items []ClusterSummary `json:"items"`
	Next  string           `json:"next,omitempty"`
}

// clusterList lists clusters with the cluster page's filters, by name, in
// keyset pages.
func (s *Server) clusterList(c echo.Context) error {
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	f := inventory.Filter{
		State: cloudapi.ClusterState(c.QueryParam("state")), Environment: c.QueryParam("environment"),
		Team: c.QueryParam("team"), Name: c.QueryParam("name"), IncludeDeleted: c.QueryParam("include_deleted") == "true",
		After: c.QueryParam("after"), Limit: limit + 1,
	}
	list, err := inventory.ClusterList(c.Request().Context(), s.deps.DB, f)
	if err != nil {
		return err
	}
	page := ClusterPage{Items: []ClusterSummary{}}
	if len(list) > limit {
		list = list[:limit]
		page.Next = list[limit-1].UID
	}
	for _, cl := range list {
		item := ClusterSummary{UID: cl.UID, Name: cl.Name, State: string(cl.State), DesiredState: string(cl.DesiredState),
			Version: cl.Version, Servers: cl.ServerCount, Environment: cl.Environment, Team: cl.Team,
			ResourceVersion: cl.ResourceVersion, SyncedAt: cl.SyncedAt, ChangedAt: cl.ChangedAt}
		if !cl.DeletedAt.IsZero() {
			d := cl.DeletedAt
			item.DeletedAt = &d
		}
		page.Items = append(page.Items, item)
	}
	return c.JSON(http.StatusOK, page)
}

// ClusterDetail is one cluster with its documents, servers, recent events
// and versions.
type ClusterDetail struct {
	UID             string                 `json:"uid"`
	Name            string                 `json:"name"`
	State           string                 `json:"state"`
	Environment     string                 `json:"environment"`
	Team            string                 `json:"team"`
	ResourceVersion int64                  `json:"resource_version"`
	Spec            cloudapi.ClusterSpec   `json:"spec"`
	Status          cloudapi.ClusterStatus `json:"status"`
	Servers         []cloudapi.Server      `json:"servers"`
	Events          []ClusterEvent         `json:"events"`
	Versions        []ClusterVersion       `json:"versions"`
	SyncedAt        time.Time              `json:"synced_at"`
	DeletedAt       *time.Time             `json:"deleted_at,omitempty"`
	Unreadable      string                 `json:"unreadable,omitempty"`
}

// ClusterEvent is one event of the cluster, as Cloud Manager reported it.
type ClusterEvent struct {
	At        time.Time `json:"at"`
	Level     string    `json:"level"`
	Source    string    `json:"source"`
	Message   string    `json:"message"`
	RequestID int64     `json:"request_id,omitempty"`
}

// ClusterVersion is one resource version the portal has seen.
type ClusterVersion struct {
	ResourceVersion int64     `json:"resource_version"`
	Source          string    `json:"source"`
	FirstSeenAt     time.Time `json:"first_seen_at"`
	ProducedBy      int64     `json:"produced_by_request,omitempty"`
	Outside         bool      `json:"changed_outside_portal"`
}

// How many events and versions a cluster's detail carries, newest first.
const (
	clusterEventsShown   = 50
	clusterVersionsShown = 20
)

func (s *Server) clusterGet(c echo.Context) error {
	ctx := c.Request().Context()
	var (
		cl       inventory.Cluster
		versions []inventory.Version
		events   []execution.ClusterEvent
	)
	err := pgx.BeginTxFunc(ctx, s.deps.DB, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var err error
		if cl, err = inventory.ClusterGet(ctx, tx, c.Param("uid")); err != nil {
			return err
		}
		if versions, err = inventory.VersionPage(ctx, tx, cl.UID, 0, clusterVersionsShown); err != nil {
			return err
		}
		events, err = execution.ClusterEventList(ctx, tx, execution.ClusterEventFilter{ClusterUID: cl.UID, NewestFirst: true, Limit: clusterEventsShown})
		return err
	})
	if err != nil {
		return err
	}
	d := ClusterDetail{UID: cl.UID, Name: cl.Name, State: string(cl.State), Environment: cl.Environment, Team: cl.Team,
		ResourceVersion: cl.ResourceVersion, Spec: cl.Spec, Status: cl.Status, Servers: cl.Status.Servers,
		Events: []ClusterEvent{}, Versions: []ClusterVersion{}, SyncedAt: cl.SyncedAt, Unreadable: cl.Unreadable}
	if d.Servers == nil {
		d.Servers = []cloudapi.Server{}
	}
	if cl.Deleted() {
		at := cl.DeletedAt
		d.DeletedAt = &at
	}
	for _, e := range events {
		d.Events = append(d.Events, ClusterEvent{At: e.At, Level: e.Level, Source: e.Source, Message: e.Message, RequestID: e.RequestID})
	}
	for _, v := range versions {
		d.Versions = append(d.Versions, ClusterVersion{ResourceVersion: v.ResourceVersion, Source: string(v.Source),
			FirstSeenAt: v.FirstSeenAt, ProducedBy: v.ProducedBy, Outside: v.Outside})
	}
	c.Response().Header().Set("ETag", strconv.Quote(strconv.FormatInt(cl.ResourceVersion, 10)))
	return c.JSON(http.StatusOK, d)
}
