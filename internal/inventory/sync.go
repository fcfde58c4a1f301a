package inventory

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
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
// against committed data. The API calls happen before it is taken, and
// no reader takes it: pages read the committed rows and never wait on it.
const syncLock int64 = 0x636c75737465720a // "cluster\n"

// Sync lists every cluster with exactly one API call (the API documents
// no paging) and records what changed in one transaction. Its cost
// follows the changes, not the clusters: one statement compares the
// listed clusters' hashes with the stored ones (see docHash), only the
// clusters that differ are written (in one batch, with their new
// versions), one statement marks deleted the clusters the list lacks,
// and one records the run's time in inventory_state, which is when every
// listed, readable cluster was last seen (Cluster.SyncedAt). Nothing else
// is written for an unchanged cluster. Each change is announced (one
// notification each, and the OnChange hook).
//
// A listed cluster the client could not decode is not written over its
// cached row: the row keeps the last readable copy and is marked
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
	rows, err := s.rows(ctx, clusters)
	if err != nil {
		return Result{}, fmt.Errorf("inventory: sync: %w", err)
	}
	changed, err := rowsChanged(ctx, s.pool, rows)
	if err != nil {
		return Result{}, fmt.Errorf("inventory: sync: %w", err)
	}
	if err := s.fillGaps(ctx, changed); err != nil {
		return Result{}, fmt.Errorf("inventory: sync: %w", err)
	}
	// An unreadable cluster without a uid may be any cached one, so no
	// cluster can be called missing this time, nor seen by this run.
	complete := !slices.ContainsFunc(unreadable, func(c cloudapi.Cluster) bool { return c.Metadata.UID == "" })
	var r Result
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		r = Result{Listed: len(listed), Unreadable: len(unreadable)}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", syncLock); err != nil {
			return err
		}
		w, err := s.store(ctx, tx, changed, false)
		if err != nil {
			return err
		}
		changes := w.changes
		r.Skipped = len(changed) - w.stored
		if complete {
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
				w.environmentsMoved = true
			}
		}
		r.Unchanged = len(rows) - r.Skipped - r.Created - r.Updated
		marked, err := s.markUnreadable(ctx, tx, unreadable)
		if err != nil {
			return err
		}
		if w.environmentsMoved {
			if err := environmentsRefresh(ctx, tx); err != nil {
				return err
			}
		}
		if complete {
			if _, err := tx.Exec(ctx, "UPDATE inventory_state SET synced_at = now()"); err != nil {
				return fmt.Errorf("record the sync run: %w", err)
			}
		}
		return s.announce(ctx, tx, append(changes, marked...))
	})
	if err != nil {
		return Result{}, fmt.Errorf("inventory: sync: %w", err)
	}
	if !complete {
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

// rowsChanged returns the rows whose stored copy differs (by docHash) or
// is missing, deleted or marked unreadable, in one statement that is sent
// the uids and hashes only (the clusters_live index covers what it reads).
func rowsChanged(ctx context.Context, q Querier, rows []row) ([]row, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids, hashes := make([]string, len(rows)), make([][]byte, len(rows))
	for i, r := range rows {
		ids[i], hashes[i] = r.uid, r.hash
	}
	found, err := q.Query(ctx, `
		SELECT l.uid FROM unnest($1::text[], $2::bytea[]) AS l(uid, hash)
		WHERE NOT EXISTS (SELECT 1 FROM clusters c
			WHERE c.uid = l.uid AND c.deleted_at IS NULL AND c.unreadable = '' AND c.doc_hash = l.hash)`, ids, hashes)
	if err != nil {
		return nil, fmt.Errorf("compare clusters: %w", err)
	}
	differ, err := pgx.CollectRows(found, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("compare clusters: %w", err)
	}
	set := make(map[string]bool, len(differ))
	for _, uid := range differ {
		set[uid] = true
	}
	var out []row
	for _, r := range rows {
		if set[r.uid] {
			out = append(out, r)
		}
	}
	return out, nil
}

// environmentsRefresh brings cluster_environments in line with the
// clusters that exist; called when a cluster appeared, went or moved
// environment.
func environmentsRefresh(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
		WITH live AS (SELECT DISTINCT environment FROM clusters WHERE deleted_at IS NULL),
		dropped AS (
			DELETE FROM cluster_environments e WHERE NOT EXISTS (SELECT 1 FROM live WHERE live.environment = e.environment)
		)
		INSERT INTO cluster_environments (environment) SELECT environment FROM live ON CONFLICT DO NOTHING`)
	if err != nil {
		return fmt.Errorf("refresh environments: %w", err)
	}
	return nil
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
// version unmoved), so that pages showing it redraw; a row already
// marked with the same reason is not written. A cluster never stored, or
// without a uid, is only logged.
func (s *Syncer) markUnreadable(ctx context.Context, tx pgx.Tx, clusters []cloudapi.Cluster) ([]Change, error) {
	var ids, reasons []string
	seen := map[string]bool{}
	for _, c := range clusters {
		reason := c.Unreadable
		if r := []rune(reason); len(r) > maxUnreadableReason {
			reason = string(r[:maxUnreadableReason]) + "…"
		}
		s.logger.WarnContext(ctx, "inventory: the API listed a cluster the portal cannot read; its last readable copy is kept",
			"uid", c.Metadata.UID, "name", c.Metadata.Name, "reason", reason)
		if c.Metadata.UID == "" || seen[c.Metadata.UID] {
			continue
		}
		seen[c.Metadata.UID] = true
		ids, reasons = append(ids, c.Metadata.UID), append(reasons, reason)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, clustersMarkUnreadableSQL, ids, reasons)
	if err != nil {
		return nil, fmt.Errorf("mark clusters unreadable: %w", err)
	}
	var (
		changes        []Change
		uid, name      string
		state          string
		rv             int64
		found, changed bool
	)
	_, err = pgx.ForEachRow(rows, []any{&uid, &found, &changed, &name, &state, &rv}, func() error {
		switch {
		case !found:
			s.logger.WarnContext(ctx, "inventory: an unreadable cluster was never read before; it is not listed until it can be read",
				"uid", uid)
		case changed:
			changes = append(changes, Change{Kind: ChangeUpdated, UID: uid, Name: name, State: cloudapi.ClusterState(state),
				ResourceVersion: rv, PreviousResourceVersion: rv})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mark clusters unreadable: %w", err)
	}
	return changes, nil
}

// clustersMarkUnreadableSQL sets the unreadable mark of each cluster $1[i]
// to $2[i] where it differs and says, for each, whether the cluster is
// stored and whether its mark changed (with its name, state and version).
// A row marked keeps as synced_at the last time it was read: the last
// complete run when it was readable until now.
const clustersMarkUnreadableSQL = `
	WITH l AS (SELECT * FROM unnest($1::text[], $2::text[]) AS l(uid, reason)),
	up AS (
		UPDATE clusters c SET unreadable = l.reason, changed_at = now(),
			synced_at = CASE WHEN c.unreadable = '' AND c.deleted_at IS NULL
				THEN greatest(c.synced_at, (SELECT synced_at FROM inventory_state)) ELSE c.synced_at END
		FROM l
		WHERE c.uid = l.uid AND c.unreadable <> l.reason
		RETURNING c.uid, c.name, c.state, c.resource_version
	)
	SELECT l.uid, EXISTS (SELECT 1 FROM clusters c WHERE c.uid = l.uid), up.uid IS NOT NULL,
		coalesce(up.name, ''), coalesce(up.state, ''), coalesce(up.resource_version, 0)
	FROM l LEFT JOIN up ON up.uid = l.uid`

// Refresh reads cluster uid from the API (one call) and records it as Sync
// would, then returns it as stored. Its row is written even when nothing
// changed, so that its synced time says it was read just now. When the
// API says it does not exist, the cluster is marked deleted and the error
// is ErrNotFound.
func (s *Syncer) Refresh(ctx context.Context, uid string) (Cluster, error) {
	live, err := s.api.GetCluster(ctx, uid)
	notFound := cloudapi.IsNotFound(err)
	if err != nil && !notFound {
		return Cluster{}, fmt.Errorf("inventory: refresh %q: %w", uid, err)
	}
	var rows []row
	if !notFound {
		if rows, err = s.rows(ctx, []cloudapi.Cluster{*live}); err != nil {
			return Cluster{}, fmt.Errorf("inventory: refresh %q: %w", uid, err)
		}
		if err := s.fillGaps(ctx, rows); err != nil {
			return Cluster{}, fmt.Errorf("inventory: refresh %q: %w", uid, err)
		}
	}
	var c Cluster
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", syncLock); err != nil {
			return err
		}
		var w written
		if notFound {
			if w.changes, err = clusterMarkDeleted(ctx, tx, uid); err != nil {
				return err
			}
			w.environmentsMoved = len(w.changes) > 0
		} else if w, err = s.store(ctx, tx, rows, true); err != nil {
			return err
		}
		if w.environmentsMoved {
			if err := environmentsRefresh(ctx, tx); err != nil {
				return err
			}
		}
		if err := s.announce(ctx, tx, w.changes); err != nil {
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

// written is what store did.
type written struct {
	changes []Change
	// stored counts the rows not skipped for an older version.
	stored int
	// environmentsMoved is set when a cluster appeared or changed
	// environment: cluster_environments must follow.
	environmentsMoved bool
}

// store upserts rows in one round trip (one batch) and returns the
// changes. A row is written only when its hash differs from the stored
// one, the stored cluster is deleted or marked unreadable, or touch is
// set (a refresh); never over a newer resource version. Rows are written
// in uid order, so concurrent writers lock rows in the same order.
func (s *Syncer) store(ctx context.Context, tx pgx.Tx, rows []row, touch bool) (written, error) {
	var w written
	if len(rows) == 0 {
		return w, nil
	}
	batch := &pgx.Batch{}
	for _, r := range rows {
		batch.Queue(clusterUpsertSQL, append(r.args(), touch)...)
		batch.Queue(versionInsertSQL, r.uid, r.resourceVersion, r.spec)
	}
	results := tx.SendBatch(ctx, batch)
	defer results.Close()
	for _, r := range rows {
		var (
			changed    *bool
			prevRV     *int64
			wasDeleted *bool
			prevEnv    *string
		)
		err := results.QueryRow().Scan(&changed, &prevRV, &wasDeleted, &prevEnv)
		if _, verr := results.Exec(); verr != nil && err == nil {
			err = verr
		}
		if err != nil {
			return written{}, fmt.Errorf("store cluster %s: %w", r.uid, err)
		}
		if changed == nil && prevRV != nil && *prevRV > r.resourceVersion {
			continue // the stored version is newer
		}
		w.stored++
		if changed == nil || !*changed {
			continue
		}
		change := Change{Kind: ChangeUpdated, UID: r.uid, Name: r.name, State: cloudapi.ClusterState(r.state),
			ResourceVersion: r.resourceVersion, PreviousResourceVersion: r.resourceVersion}
		switch {
		case prevRV == nil || (wasDeleted != nil && *wasDeleted):
			change.Kind = ChangeCreated
			w.environmentsMoved = true
		default:
			change.PreviousResourceVersion = *prevRV
			if prevEnv != nil && *prevEnv != r.environment {
				w.environmentsMoved = true
			}
		}
		w.changes = append(w.changes, change)
	}
	return w, results.Close()
}

// row is one cluster in the shape of the clusters table.
type row struct {
	uid, name, state, desiredState, version, environment, team string
	spec, status                                               []byte
	resourceVersion                                            int64
	serverCount                                                int
	hash                                                       []byte
}

// rows converts clusters to rows in uid order, leaving out (and logging)
// any without a uid.
func (s *Syncer) rows(ctx context.Context, clusters []cloudapi.Cluster) ([]row, error) {
	out := make([]row, 0, len(clusters))
	for _, c := range clusters {
		if c.Metadata.UID == "" {
			s.logger.WarnContext(ctx, "inventory: the API listed a cluster without a uid; ignored", "name", c.Metadata.Name)
			continue
		}
		r, err := s.row(c)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b row) int { return cmp.Compare(a.uid, b.uid) })
	return out, nil
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
	r := row{
		uid: c.Metadata.UID, name: c.Metadata.Name, state: string(status.State),
		desiredState: string(c.Spec.DesiredState), version: c.Spec.Version,
		environment: env, team: team, spec: spec, status: statusJSON,
		resourceVersion: status.ResourceVersion, serverCount: len(status.Servers),
	}
	r.hash = docHash(r)
	return r, nil
}

// docHash is the SHA-256 of everything the sync stores of a cluster: its
// name, environment, team and canonical documents (the client's encoding
// of the decoded spec and status, which is stable: struct fields in
// order, map keys sorted). Every other column derives from these.
func docHash(r row) []byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(r.name), []byte(r.environment), []byte(r.team), r.spec, r.status} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return h.Sum(nil)
}

func (r row) args() []any {
	return []any{r.uid, r.name, r.spec, r.status, r.resourceVersion, r.state, r.desiredState, r.version,
		r.serverCount, r.environment, r.team, r.hash}
}

// clusterUpsertSQL inserts or updates one cluster, clearing its
// unreadable mark, unless the stored resource version is newer or the
// stored copy is the same ($12 is its hash; $13 writes it anyway, for a
// refresh). It returns whether anything changed (null when nothing was
// written; changed_at and synced_at are both set to now() exactly when
// something changed; a cleared mark is a change), and the stored version,
// deletion and environment before the statement (null for a new cluster).
const clusterUpsertSQL = `
	WITH prev AS (
		SELECT resource_version, deleted_at IS NOT NULL AS was_deleted, environment FROM clusters WHERE uid = $1
	), up AS (
		INSERT INTO clusters AS c (uid, name, spec, status, resource_version, state, desired_state,
		                           imply_version, server_count, environment, team, doc_hash, synced_at, changed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now(), now())
		ON CONFLICT (uid) DO UPDATE SET
			name = EXCLUDED.name, spec = EXCLUDED.spec, status = EXCLUDED.status,
			resource_version = EXCLUDED.resource_version, state = EXCLUDED.state,
			desired_state = EXCLUDED.desired_state, imply_version = EXCLUDED.imply_version,
			server_count = EXCLUDED.server_count, environment = EXCLUDED.environment, team = EXCLUDED.team,
			doc_hash = EXCLUDED.doc_hash, synced_at = now(), deleted_at = NULL, unreadable = '',
			changed_at = CASE
				WHEN c.deleted_at IS NOT NULL OR c.unreadable <> ''
				  OR (c.name, c.spec, c.status, c.resource_version, c.environment, c.team)
				     IS DISTINCT FROM
				     (EXCLUDED.name, EXCLUDED.spec, EXCLUDED.status, EXCLUDED.resource_version, EXCLUDED.environment, EXCLUDED.team)
				THEN now() ELSE c.changed_at END
		WHERE EXCLUDED.resource_version >= c.resource_version
		  AND (c.doc_hash IS DISTINCT FROM EXCLUDED.doc_hash OR c.deleted_at IS NOT NULL OR c.unreadable <> '' OR $13::boolean)
		RETURNING c.changed_at = c.synced_at AS changed
	)
	SELECT (SELECT changed FROM up), prev.resource_version, prev.was_deleted, prev.environment
	FROM (SELECT) one LEFT JOIN prev ON true`

const versionInsertSQL = `
	INSERT INTO cluster_versions (cluster_uid, resource_version, spec) VALUES ($1, $2, $3)
	ON CONFLICT (cluster_uid, resource_version) DO NOTHING`

// markDeletedSet is the SET list of marking a cluster deleted: its synced
// time stays when it was last seen (the last complete run, if it was
// readable then). The run's time is a scalar subquery, not a join: a join
// with the one-row table misleads the planner's estimates (and JIT).
const markDeletedSet = `deleted_at = now(), changed_at = now(),
	synced_at = CASE WHEN c.unreadable = ''
		THEN greatest(c.synced_at, (SELECT synced_at FROM inventory_state)) ELSE c.synced_at END`

// clustersMarkMissing marks deleted every existing cluster whose uid is
// not in present, in one statement.
func clustersMarkMissing(ctx context.Context, tx pgx.Tx, present []string) ([]Change, error) {
	rows, err := tx.Query(ctx, `
		WITH gone AS (
			SELECT uid FROM clusters WHERE deleted_at IS NULL
			EXCEPT SELECT unnest($1::text[])
		)
		UPDATE clusters c SET `+markDeletedSet+`
		FROM gone WHERE c.uid = gone.uid
		RETURNING c.uid, c.name, c.state, c.resource_version`, present)
	if err != nil {
		return nil, fmt.Errorf("mark missing clusters: %w", err)
	}
	return pgx.CollectRows(rows, scanDeleted)
}

// clusterMarkDeleted marks cluster uid deleted; no change when it is
// unknown or already deleted.
func clusterMarkDeleted(ctx context.Context, tx pgx.Tx, uid string) ([]Change, error) {
	rows, err := tx.Query(ctx, `
		UPDATE clusters c SET `+markDeletedSet+`
		WHERE c.uid = $1 AND c.deleted_at IS NULL
		RETURNING c.uid, c.name, c.state, c.resource_version`, uid)
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
