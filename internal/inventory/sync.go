package inventory

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// API is the part of the Cloud Manager client the inventory uses;
// *cloudapi.Client has it.
type API interface {
	ListClusters(ctx context.Context, opts ...cloudapi.Option) ([]cloudapi.Cluster, error)
	GetCluster(ctx context.Context, id string, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
}

// ChangeKind says what happened to a cluster.
type ChangeKind string

// The change kinds.
const (
	ChangeCreated ChangeKind = "created" // first seen
	ChangeUpdated ChangeKind = "updated" // spec, status, name, environment or team changed
	ChangeDeleted ChangeKind = "deleted" // the API no longer has it
)

// Change is one cluster that a sync or refresh found different.
type Change struct {
	Kind ChangeKind
	UID  string
	Name string
	// State and ResourceVersion are the cluster's now (for a deleted
	// cluster: as last seen).
	State           cloudapi.ClusterState
	ResourceVersion int64
	// PreviousResourceVersion is the version before the change; it equals
	// ResourceVersion for a created cluster and when only the status moved.
	PreviousResourceVersion int64
}

// VersionMoved reports whether the cluster's configuration is no longer
// the one it had: a new resource version, or the cluster is gone.
func (c Change) VersionMoved() bool {
	return c.Kind == ChangeDeleted || (c.Kind == ChangeUpdated && c.ResourceVersion != c.PreviousResourceVersion)
}

// ChangeHook runs inside the transaction that records changes, after
// they are stored; an error rolls the whole sync back. It must lock what it
// needs before appending to the audit log (whose head lock is global).
type ChangeHook func(ctx context.Context, tx pgx.Tx, changes []Change) error

// Config configures a Syncer.
type Config struct {
	Rules Rules
	// OnChange, when set, receives every sync's and refresh's changes (none:
	// not called).
	OnChange ChangeHook
	// Logger receives a record per sync with changes; nil discards.
	Logger *slog.Logger
}

// Syncer copies clusters from the API into PostgreSQL.
type Syncer struct {
	pool     *pgxpool.Pool
	api      API
	rules    Rules
	onChange ChangeHook
	synced   atomic.Bool // a sync has completed in this process
	logger   *slog.Logger
}

// NewSyncer returns a Syncer that reads api and writes pool.
func NewSyncer(pool *pgxpool.Pool, api API, cfg Config) *Syncer {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Syncer{pool: pool, api: api, rules: cfg.Rules, onChange: cfg.OnChange, logger: logger}
}

// Result counts what one Sync did.
type Result struct {
	Listed    int // clusters the API returned
	Created   int
	Updated   int
	Deleted   int
	Unchanged int
	// Skipped counts clusters left alone because the database already had
	// a newer resource version (a refresh raced the list call).
	Skipped int
	// Unreadable counts listed clusters the client could not decode
	// (cloudapi.Cluster.Unreadable): their cached rows are kept as last
	// read and marked, and they count in no other field but Listed.
	Unreadable int
}

// syncLock serialises every write of the inventory (syncs and refreshes
// across all replicas), so "previous version" and "deleted" are decided
// against committed data. The API calls happen before it is taken.
const syncLock int64 = 0x636c75737465720a // "cluster\n"

// Sync lists every cluster with exactly one API call and records the
// result in one transaction: upserts, new versions, clusters missing from
// the list marked deleted, one notification per change and the OnChange
// hook. A listed cluster the client could not decode is not written over
// its cached row: the row keeps the last readable copy and is marked
// unreadable with the reason (Cluster.Unreadable), a warning is logged,
// and the mark is cleared when a later read succeeds; one never read is
// not stored. Errors: the API's (nothing is written) or the database's
// (nothing is kept).
func (s *Syncer) Sync(ctx context.Context) (Result, error) {
	listed, err := s.api.ListClusters(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("inventory: sync: list clusters: %w", err)
	}
	clusters, unreadable := splitUnreadable(listed)
	if err := s.fillGaps(ctx, clusters); err != nil {
		return Result{}, fmt.Errorf("inventory: sync: %w", err)
	}
	// An unreadable cluster without a uid may be any cached one, so no
	// cluster can be called missing this time.
	markMissing := !slices.ContainsFunc(unreadable, func(c cloudapi.Cluster) bool { return c.Metadata.UID == "" })
	var r Result
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		r = Result{Listed: len(listed), Unreadable: len(unreadable)}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", syncLock); err != nil {
			return err
		}
		changes, stored, err := s.store(ctx, tx, clusters)
		if err != nil {
			return err
		}
		r.Skipped = len(clusters) - stored
		if markMissing {
			gone, err := clustersMarkMissing(ctx, tx, uids(listed))
			if err != nil {
				return err
			}
			changes = append(changes, gone...)
		}
		for _, c := range changes {
			switch c.Kind {
			case ChangeCreated:
				r.Created++
			case ChangeUpdated:
				r.Updated++
			case ChangeDeleted:
				r.Deleted++
			}
		}
		r.Unchanged = stored - r.Created - r.Updated
		marked, err := s.markUnreadable(ctx, tx, unreadable)
		if err != nil {
			return err
		}
		return s.announce(ctx, tx, append(changes, marked...))
	})
	if err != nil {
		return Result{}, fmt.Errorf("inventory: sync: %w", err)
	}
	if !markMissing {
		s.logger.WarnContext(ctx, "inventory: the API listed a cluster that could not be read, not even its uid; no cluster is marked deleted by this sync")
	}
	// The first sync of a process always says what it found, so a start-up
	// shows at once that the API answers; later ones only when they change.
	if !s.synced.Swap(true) || r.Created+r.Updated+r.Deleted > 0 {
		s.logger.InfoContext(ctx, "inventory synced", "listed", r.Listed, "created", r.Created,
			"updated", r.Updated, "deleted", r.Deleted, "skipped", r.Skipped, "unreadable", r.Unreadable)
	}
	return r, nil
}

// splitUnreadable separates the clusters the client could decode from
// those it could not.
func splitUnreadable(listed []cloudapi.Cluster) (readable, unreadable []cloudapi.Cluster) {
	for _, c := range listed {
		if c.Unreadable != "" {
			unreadable = append(unreadable, c)
		} else {
			readable = append(readable, c)
		}
	}
	return readable, unreadable
}

// maxUnreadableReason bounds the stored reason; decode errors are short.
const maxUnreadableReason = 2000

// markUnreadable records on each cached row that the API listed the
// cluster but it could not be read, with the reason, and logs a warning
// per cluster. A row whose mark changes is a change (ChangeUpdated, its
// version unmoved), so that pages showing it redraw. A cluster never
// stored, or without a uid, is only logged.
func (s *Syncer) markUnreadable(ctx context.Context, tx pgx.Tx, clusters []cloudapi.Cluster) ([]Change, error) {
	var changes []Change
	for _, c := range clusters {
		reason := c.Unreadable
		if r := []rune(reason); len(r) > maxUnreadableReason {
			reason = string(r[:maxUnreadableReason]) + "…"
		}
		s.logger.WarnContext(ctx, "inventory: the API listed a cluster the portal cannot read; its last readable copy is kept",
			"uid", c.Metadata.UID, "name", c.Metadata.Name, "reason", reason)
		if c.Metadata.UID == "" {
			continue
		}
		change, found, err := clusterMarkUnreadable(ctx, tx, c.Metadata.UID, reason)
		if err != nil {
			return nil, err
		}
		if !found {
			s.logger.WarnContext(ctx, "inventory: an unreadable cluster was never read before; it is not listed until it can be read",
				"uid", c.Metadata.UID, "name", c.Metadata.Name)
			continue
		}
		if change != nil {
			changes = append(changes, *change)
		}
	}
	return changes, nil
}

// clusterMarkUnreadable sets the unreadable mark of cluster uid to reason
// (” clears it) and returns the change when the mark changed; found is
// false when the inventory has no such cluster.
func clusterMarkUnreadable(ctx context.Context, tx pgx.Tx, uid, reason string) (change *Change, found bool, err error) {
	c := Change{Kind: ChangeUpdated, UID: uid}
	var (
		state   string
		changed bool
	)
	err = tx.QueryRow(ctx, `
		UPDATE clusters c SET unreadable = $2,
			changed_at = CASE WHEN old.was = $2 THEN c.changed_at ELSE now() END
		FROM (SELECT uid, unreadable AS was FROM clusters WHERE uid = $1) old
		WHERE c.uid = old.uid
		RETURNING c.name, c.state, c.resource_version, old.was <> $2`, uid, reason).
		Scan(&c.Name, &state, &c.ResourceVersion, &changed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("mark cluster %s unreadable: %w", uid, err)
	}
	if !changed {
		return nil, true, nil
	}
	c.State, c.PreviousResourceVersion = cloudapi.ClusterState(state), c.ResourceVersion
	return &c, true, nil
}

// Refresh reads cluster uid from the API (one call) and records it as Sync
// would, then returns it as stored. When the API says it does not exist,
// the cluster is marked deleted and the error is ErrNotFound.
func (s *Syncer) Refresh(ctx context.Context, uid string) (Cluster, error) {
	live, err := s.api.GetCluster(ctx, uid)
	notFound := cloudapi.IsNotFound(err)
	if err != nil && !notFound {
		return Cluster{}, fmt.Errorf("inventory: refresh %q: %w", uid, err)
	}
	if !notFound {
		if err := s.fillGaps(ctx, []cloudapi.Cluster{*live}); err != nil {
			return Cluster{}, fmt.Errorf("inventory: refresh %q: %w", uid, err)
		}
	}
	var c Cluster
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", syncLock); err != nil {
			return err
		}
		var changes []Change
		if notFound {
			if changes, err = clusterMarkDeleted(ctx, tx, uid); err != nil {
				return err
			}
		} else if changes, _, err = s.store(ctx, tx, []cloudapi.Cluster{*live}); err != nil {
			return err
		}
		if err := s.announce(ctx, tx, changes); err != nil {
			return err
		}
		if notFound {
			return nil
		}
		c, err = ClusterGet(ctx, tx, uid)
		return err
	})
	if err != nil {
		return Cluster{}, fmt.Errorf("inventory: refresh %q: %w", uid, err)
	}
	if notFound {
		return Cluster{}, fmt.Errorf("inventory: refresh %q: %w", uid, ErrNotFound)
	}
	return c, nil
}

// store upserts clusters in one round trip and returns the changes and how
// many were stored (the rest were older than the stored version).
// Clusters are written in uid order, so concurrent writers lock rows in
// the same order.
func (s *Syncer) store(ctx context.Context, tx pgx.Tx, clusters []cloudapi.Cluster) ([]Change, int, error) {
	sorted := slices.Clone(clusters)
	slices.SortFunc(sorted, func(a, b cloudapi.Cluster) int { return cmp.Compare(a.Metadata.UID, b.Metadata.UID) })
	batch := &pgx.Batch{}
	rows := make([]row, 0, len(sorted))
	for _, c := range sorted {
		if c.Metadata.UID == "" {
			s.logger.WarnContext(ctx, "inventory: the API listed a cluster without a uid; ignored", "name", c.Metadata.Name)
			continue
		}
		r, err := s.row(c)
		if err != nil {
			return nil, 0, err
		}
		rows = append(rows, r)
		batch.Queue(clusterUpsertSQL, r.args()...)
		batch.Queue(versionInsertSQL, r.uid, r.resourceVersion, r.spec)
	}
	results := tx.SendBatch(ctx, batch)
	defer results.Close()
	var changes []Change
	stored := 0
	for _, r := range rows {
		var (
			changed    bool
			prevRV     *int64
			wasDeleted *bool
		)
		err := results.QueryRow().Scan(&changed, &prevRV, &wasDeleted)
		if _, verr := results.Exec(); verr != nil && err == nil {
			err = verr
		}
		if errors.Is(err, pgx.ErrNoRows) {
			continue // the stored version is newer
		}
		if err != nil {
			return nil, 0, fmt.Errorf("store cluster %s: %w", r.uid, err)
		}
		stored++
		if !changed {
			continue
		}
		change := Change{Kind: ChangeUpdated, UID: r.uid, Name: r.name, State: cloudapi.ClusterState(r.state),
			ResourceVersion: r.resourceVersion, PreviousResourceVersion: r.resourceVersion}
		switch {
		case prevRV == nil || (wasDeleted != nil && *wasDeleted):
			change.Kind = ChangeCreated
		default:
			change.PreviousResourceVersion = *prevRV
		}
		changes = append(changes, change)
	}
	return changes, stored, results.Close()
}

// row is one cluster in the shape of the clusters table.
type row struct {
	uid, name, state, desiredState, version, environment, team string
	spec, status                                               []byte
	resourceVersion                                            int64
	serverCount                                                int
}

func (s *Syncer) row(c cloudapi.Cluster) (row, error) {
	spec, err := json.Marshal(c.Spec)
	if err != nil {
		return row{}, fmt.Errorf("encode spec of %s: %w", c.Metadata.UID, err)
	}
	status := cloudapi.ClusterStatus{}
	if c.Status != nil {
		status = *c.Status
	}
	statusJSON, err := json.Marshal(status)
	if err != nil {
		return row{}, fmt.Errorf("encode status of %s: %w", c.Metadata.UID, err)
	}
	env, team := s.rules.Classify(c.Metadata.Name, c.Spec)
	return row{
		uid: c.Metadata.UID, name: c.Metadata.Name, state: string(status.State),
		desiredState: string(c.Spec.DesiredState), version: c.Spec.Version,
		environment: env, team: team, spec: spec, status: statusJSON,
		resourceVersion: status.ResourceVersion, serverCount: len(status.Servers),
	}, nil
}

func (r row) args() []any {
	return []any{r.uid, r.name, r.spec, r.status, r.resourceVersion, r.state, r.desiredState, r.version,
		r.serverCount, r.environment, r.team}
}

// clusterUpsertSQL inserts or updates one cluster unless the stored
// resource version is newer (then it returns no row), clearing its
// unreadable mark. It returns whether anything changed (changed_at and
// synced_at are both set to now() exactly then; a cleared mark is a
// change), and the stored version and deletion before the statement (null
// for a new cluster).
const clusterUpsertSQL = `
	WITH prev AS (
		SELECT resource_version, deleted_at IS NOT NULL AS was_deleted FROM clusters WHERE uid = $1
	), up AS (
		INSERT INTO clusters AS c (uid, name, spec, status, resource_version, state, desired_state,
		                           imply_version, server_count, environment, team, synced_at, changed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), now())
		ON CONFLICT (uid) DO UPDATE SET
			name = EXCLUDED.name, spec = EXCLUDED.spec, status = EXCLUDED.status,
			resource_version = EXCLUDED.resource_version, state = EXCLUDED.state,
			desired_state = EXCLUDED.desired_state, imply_version = EXCLUDED.imply_version,
			server_count = EXCLUDED.server_count, environment = EXCLUDED.environment, team = EXCLUDED.team,
			synced_at = now(), deleted_at = NULL, unreadable = '',
			changed_at = CASE
				WHEN c.deleted_at IS NOT NULL OR c.unreadable <> ''
				  OR (c.name, c.spec, c.status, c.resource_version, c.environment, c.team)
				     IS DISTINCT FROM
				     (EXCLUDED.name, EXCLUDED.spec, EXCLUDED.status, EXCLUDED.resource_version, EXCLUDED.environment, EXCLUDED.team)
				THEN now() ELSE c.changed_at END
		WHERE EXCLUDED.resource_version >= c.resource_version
		RETURNING c.changed_at = c.synced_at AS changed
	)
	SELECT up.changed, prev.resource_version, prev.was_deleted FROM up LEFT JOIN prev ON true`

const versionInsertSQL = `
	INSERT INTO cluster_versions (cluster_uid, resource_version, spec) VALUES ($1, $2, $3)
	ON CONFLICT (cluster_uid, resource_version) DO NOTHING`

// clustersMarkMissing marks deleted every existing cluster whose uid is
// not in present.
func clustersMarkMissing(ctx context.Context, tx pgx.Tx, present []string) ([]Change, error) {
	rows, err := tx.Query(ctx, `
		UPDATE clusters SET deleted_at = now(), changed_at = now()
		WHERE deleted_at IS NULL AND NOT (uid = ANY($1))
		RETURNING uid, name, state, resource_version`, present)
	if err != nil {
		return nil, fmt.Errorf("mark missing clusters: %w", err)
	}
	return pgx.CollectRows(rows, scanDeleted)
}

// clusterMarkDeleted marks cluster uid deleted; no change when it is
// unknown or already deleted.
func clusterMarkDeleted(ctx context.Context, tx pgx.Tx, uid string) ([]Change, error) {
	rows, err := tx.Query(ctx, `
		UPDATE clusters SET deleted_at = now(), changed_at = now()
		WHERE uid = $1 AND deleted_at IS NULL
		RETURNING uid, name, state, resource_version`, uid)
	if err != nil {
		return nil, fmt.Errorf("mark cluster %s deleted: %w", uid, err)
	}
	return pgx.CollectRows(rows, scanDeleted)
}

func scanDeleted(row pgx.CollectableRow) (Change, error) {
	c := Change{Kind: ChangeDeleted}
	var state string
	err := row.Scan(&c.UID, &c.Name, &state, &c.ResourceVersion)
	c.State, c.PreviousResourceVersion = cloudapi.ClusterState(state), c.ResourceVersion
	return c, err
}

func uids(clusters []cloudapi.Cluster) []string {
	out := make([]string, 0, len(clusters))
	for _, c := range clusters {
		if c.Metadata.UID != "" {
			out = append(out, c.Metadata.UID)
		}
	}
	return out
}
