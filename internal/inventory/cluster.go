package inventory

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/sqltext"
)

// ErrNotFound means the inventory has no such cluster (or, from Refresh,
// that the API no longer has it).
var ErrNotFound = errors.New("inventory: cluster not found")

// Querier runs queries: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Cluster is one cluster as last synced.
type Cluster struct {
	UID  string
	Name string
	// Spec and Status are the API's documents as of SyncedAt.
	Spec            cloudapi.ClusterSpec
	Status          cloudapi.ClusterStatus
	ResourceVersion int64
	State           cloudapi.ClusterState
	Environment     string
	Team            string
	FirstSeenAt     time.Time
	SyncedAt        time.Time
	// ChangedAt is the last time the sync saw anything of the cluster change.
	ChangedAt time.Time
	// DeletedAt is when the API stopped listing the cluster; zero while it
	// exists.
	DeletedAt time.Time
	// Unreadable is why the last sync could not read the cluster the API
	// listed (cloudapi.Cluster.Unreadable); empty when it could. Spec,
	// Status and the rest are then the last readable copy, as of SyncedAt.
	Unreadable string
}

// Deleted reports whether the API no longer has the cluster.
func (c Cluster) Deleted() bool { return !c.DeletedAt.IsZero() }

// Server returns the server with instance id, if the cluster has it.
func (c Cluster) Server(instanceID string) (cloudapi.Server, bool) {
	for _, s := range c.Status.Servers {
		if s.InstanceID == instanceID {
			return s, true
		}
	}
	return cloudapi.Server{}, false
}

// Summary is a cluster as the list page shows it, without its documents.
type Summary struct {
	UID             string
	Name            string
	State           cloudapi.ClusterState
	DesiredState    cloudapi.DesiredState
	Version         string // the Imply release, spec.version
	ServerCount     int
	Environment     string
	Team            string
	ResourceVersion int64
	SyncedAt        time.Time
	ChangedAt       time.Time
	DeletedAt       time.Time // zero while the cluster exists
	// Unreadable is why the last sync could not read the cluster; empty
	// when it could (see Cluster.Unreadable).
	Unreadable string
}

// SortKey orders ClusterList.
type SortKey string

// The sort keys; the zero value sorts by name.
const (
	SortName        SortKey = "name"
	SortState       SortKey = "state"
	SortEnvironment SortKey = "environment"
	SortVersion     SortKey = "version"
	SortServers     SortKey = "servers"
	SortSynced      SortKey = "synced"
	SortChanged     SortKey = "changed"
)

// sortColumns whitelists the ORDER BY expression of each key; name breaks
// ties, then uid.
var sortColumns = map[SortKey]string{
	SortName:        "name",
	SortState:       "state",
	SortEnvironment: "environment",
	SortVersion:     "imply_version",
	SortServers:     "server_count",
	SortSynced:      "synced_at",
	SortChanged:     "changed_at",
}

// SortKeys lists the keys ClusterList accepts.
func SortKeys() []SortKey {
	return []SortKey{SortName, SortState, SortEnvironment, SortVersion, SortServers, SortSynced, SortChanged}
}

// Filter selects and orders clusters for ClusterList. Every field set
// narrows the selection.
type Filter struct {
	State       cloudapi.ClusterState
	Environment string
	// Team keeps the clusters the team owns; Teams, when not nil, those
	// any of the teams owns (none: an empty list).
	Team  string
	Teams []string
	// NotTeams, when not nil, keeps the clusters none of the teams owns
	// (the unowned ones, given every team).
	NotTeams []string
	// Name keeps clusters whose name contains it, ignoring case.
	Name string
	// IncludeDeleted also lists clusters the API no longer has.
	IncludeDeleted bool
	Sort           SortKey
	Desc           bool
	// Limit caps the result; zero means 200. Offset skips that many (for
	// small lists: a page reads and skips them all).
	Limit, Offset int
	// After and Before are keyset pages: the clusters after the one with
	// uid After in the order, or the ones before the one with uid Before
	// (listed nearest first, so reversed: the caller turns them round).
	// A page is read from the index of the order, however deep it is.
	After, Before string
}

// ownerColumn is the owning team: an admin's override or ownership rule
// (SQL function cluster_owner, internal/governance), else the team the
// sync derived.
const ownerColumn = `cluster_owner(uid, name, spec, team)`

const summaryColumns = `uid, name, state, desired_state, imply_version, server_count, environment, ` + ownerColumn + `,
	resource_version, ` + syncedAt + `, changed_at, deleted_at, unreadable`

// syncedAt is when the cluster was last read: a cluster that exists and
// could be read was seen by the last complete sync run (inventory_state),
// which writes no row of an unchanged cluster; otherwise its row's
// synced_at is its last read. Sorting by "synced_at" sorts by this.
const syncedAt = `CASE WHEN deleted_at IS NULL AND unreadable = ''
	THEN greatest(synced_at, (SELECT synced_at FROM inventory_state)) ELSE synced_at END AS synced_at`

// ClusterList returns the clusters f selects, in f's order (reversed
// with f.Before). Errors: an unknown sort key, or the database's.
func ClusterList(ctx context.Context, q Querier, f Filter) ([]Summary, error) {
	column, ok := sortColumns[cmp.Or(f.Sort, SortName)]
	if !ok {
		return nil, fmt.Errorf("inventory: list clusters: unknown sort key %q", f.Sort)
	}
	var sql strings.Builder
	args := []any{}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	sql.WriteString("SELECT " + summaryColumns + " FROM clusters WHERE true")
	if !f.IncludeDeleted {
		sql.WriteString(" AND deleted_at IS NULL")
	}
	if f.State != "" {
		sql.WriteString(" AND state = " + arg(string(f.State)))
	}
	if f.Environment != "" {
		sql.WriteString(" AND environment = " + arg(f.Environment))
	}
	if f.Team != "" {
		sql.WriteString(" AND " + ownerColumn + " = " + arg(f.Team))
	}
	if f.Teams != nil {
		sql.WriteString(" AND " + ownerColumn + " = ANY(" + arg(f.Teams) + ")")
	}
	if f.NotTeams != nil {
		sql.WriteString(" AND NOT " + ownerColumn + " = ANY(" + arg(f.NotTeams) + ")")
	}
	if f.Name != "" {
		sql.WriteString(" AND name ILIKE " + arg(sqltext.Contains(f.Name)))
	}
	// Before reads the list backwards from its cursor.
	desc := f.Desc != (f.Before != "")
	if cursor := cmp.Or(f.After, f.Before); cursor != "" {
		op := " > "
		if desc {
			op = " < "
		}
		key := "(" + column + ", name, uid)"
		sql.WriteString(" AND " + key + op + "(SELECT " + column + ", name, uid FROM clusters WHERE uid = " + arg(cursor) + ")")
	}
	direction := " ASC"
	if desc {
		direction = " DESC"
	}
	sql.WriteString(" ORDER BY " + column + direction + ", name" + direction + ", uid" + direction)
	limit := f.Limit
	if limit <= 0 {
		limit = 200
	}
	sql.WriteString(" LIMIT " + arg(limit) + " OFFSET " + arg(max(f.Offset, 0)))

	rows, err := q.Query(ctx, sql.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("inventory: list clusters: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanSummary)
	if err != nil {
		return nil, fmt.Errorf("inventory: list clusters: %w", err)
	}
	return list, nil
}

// Environments lists the environments of the clusters that exist, sorted,
// for the list page's filter: a small table the sync keeps
// (cluster_environments), so its cost does not grow with the clusters.
func Environments(ctx context.Context, q Querier) ([]string, error) {
	rows, err := q.Query(ctx, "SELECT environment FROM cluster_environments ORDER BY environment")
	if err != nil {
		return nil, fmt.Errorf("inventory: environments: %w", err)
	}
	envs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("inventory: environments: %w", err)
	}
	return envs, nil
}

const clusterColumns = `uid, name, spec, status, resource_version, state, environment, ` + ownerColumn + `,
	first_seen_at, ` + syncedAt + `, changed_at, deleted_at, unreadable`

// ClusterGet returns the cluster with uid, deleted or not. Errors:
// ErrNotFound.
func ClusterGet(ctx context.Context, q Querier, uid string) (Cluster, error) {
	row := q.QueryRow(ctx, "SELECT "+clusterColumns+" FROM clusters WHERE uid = $1", uid)
	c, err := scanCluster(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Cluster{}, fmt.Errorf("inventory: cluster %q: %w", uid, ErrNotFound)
	}
	if err != nil {
		return Cluster{}, fmt.Errorf("inventory: cluster %q: %w", uid, err)
	}
	return c, nil
}

// ClusterByName returns the existing (not deleted) clusters named name,
// oldest first: the API does not require names to be unique. An empty
// result is not an error.
func ClusterByName(ctx context.Context, q Querier, name string) ([]Cluster, error) {
	rows, err := q.Query(ctx, "SELECT "+clusterColumns+" FROM clusters WHERE name = $1 AND deleted_at IS NULL ORDER BY first_seen_at, uid", name)
	if err != nil {
		return nil, fmt.Errorf("inventory: clusters named %q: %w", name, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Cluster, error) { return scanCluster(row) })
	if err != nil {
		return nil, fmt.Errorf("inventory: clusters named %q: %w", name, err)
	}
	return list, nil
}

func scanCluster(row pgx.Row) (Cluster, error) {
	var (
		c            Cluster
		spec, status []byte
		state        string
		deletedAt    *time.Time
	)
	err := row.Scan(&c.UID, &c.Name, &spec, &status, &c.ResourceVersion, &state, &c.Environment, &c.Team,
		&c.FirstSeenAt, &c.SyncedAt, &c.ChangedAt, &deletedAt, &c.Unreadable)
	if err != nil {
		return Cluster{}, err
	}
	c.State = cloudapi.ClusterState(state)
	if deletedAt != nil {
		c.DeletedAt = *deletedAt
	}
	if err := json.Unmarshal(spec, &c.Spec); err != nil {
		return Cluster{}, fmt.Errorf("decode spec of %s: %w", c.UID, err)
	}
	if err := json.Unmarshal(status, &c.Status); err != nil {
		return Cluster{}, fmt.Errorf("decode status of %s: %w", c.UID, err)
	}
	return c, nil
}

func scanSummary(row pgx.CollectableRow) (Summary, error) {
	var (
		s              Summary
		state, desired string
		deletedAt      *time.Time
	)
	err := row.Scan(&s.UID, &s.Name, &state, &desired, &s.Version, &s.ServerCount, &s.Environment, &s.Team,
		&s.ResourceVersion, &s.SyncedAt, &s.ChangedAt, &deletedAt, &s.Unreadable)
	if err != nil {
		return Summary{}, err
	}
	s.State, s.DesiredState = cloudapi.ClusterState(state), cloudapi.DesiredState(desired)
	if deletedAt != nil {
		s.DeletedAt = *deletedAt
	}
	return s, nil
}
