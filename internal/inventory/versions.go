package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// ErrVersionNotFound means neither the inventory nor the API's history has
// that resource version of the cluster.
var ErrVersionNotFound = errors.New("inventory: version not found")

// Source says how a version's spec was obtained.
type Source string

// The sources.
const (
	// SourceLive: a sync or refresh read the cluster at this version.
	SourceLive Source = "live"
	// SourceHistory: the version came and went between two reads (or
	// before Clusterdesk knew the cluster) and was fetched once from the
	// API's history.
	SourceHistory Source = "history"
)

// Version is one resource version of a cluster. Its spec never changes.
type Version struct {
	ResourceVersion int64
	Spec            cloudapi.ClusterSpec
	Source          Source
	// FirstSeenAt is when Clusterdesk first had the version; FetchedAt is
	// set for versions fetched from the history API.
	FirstSeenAt time.Time
	FetchedAt   time.Time
	// ProducedBy is the change request whose submission produced the
	// version (0: none). Outside is true when nothing Clusterdesk did
	// explains it. Neither is set while the version is not attributed yet
	// (Attributed false: a submission was in flight when it was seen).
	ProducedBy int64
	Outside    bool
	Attributed bool
	// Drift is set on the last version of a run of changes made outside
	// Clusterdesk: the drift recorded for it (cluster_drifts).
	Drift *VersionDrift
}

// VersionDrift is the drift that ends at a version: the changes from
// FromResourceVersion to it, with the audit event that reported it. Diff
// is the JSON of approvals.Diff.
type VersionDrift struct {
	ID                  int64
	FromResourceVersion int64
	Diff                json.RawMessage
	DetectedAt          time.Time
	AuditSeq            int64
}

const versionColumns = `v.resource_version, v.spec, v.source, v.first_seen_at, v.fetched_at,
	coalesce(v.produced_by_request_id, 0), coalesce(v.outside, false), v.outside IS NOT NULL,
	d.id, d.from_resource_version, d.diff, d.detected_at, d.audit_seq`

const versionFrom = ` FROM cluster_versions v
	LEFT JOIN cluster_drifts d ON d.cluster_uid = v.cluster_uid AND d.to_resource_version = v.resource_version`

func scanVersion(row pgx.Row) (Version, error) {
	var (
		v         Version
		spec      []byte
		source    string
		fetched   *time.Time
		driftID   *int64
		driftFrom *int64
		driftDiff []byte
		driftAt   *time.Time
		driftSeq  *int64
	)
	if err := row.Scan(&v.ResourceVersion, &spec, &source, &v.FirstSeenAt, &fetched,
		&v.ProducedBy, &v.Outside, &v.Attributed, &driftID, &driftFrom, &driftDiff, &driftAt, &driftSeq); err != nil {
		return Version{}, err
	}
	if driftID != nil {
		v.Drift = &VersionDrift{ID: *driftID, FromResourceVersion: *driftFrom, Diff: driftDiff,
			DetectedAt: *driftAt, AuditSeq: *driftSeq}
	}
	v.Source = Source(source)
	if fetched != nil {
		v.FetchedAt = *fetched
	}
	return v, json.Unmarshal(spec, &v.Spec)
}

// VersionList returns the versions of cluster uid that Clusterdesk has,
// newest first: every version since it first saw the cluster (those that
// came and went between two reads are fetched from the history API), and
// older ones fetched for a rollback. An unknown cluster has none (not an
// error).
func VersionList(ctx context.Context, q Querier, uid string) ([]Version, error) {
	rows, err := q.Query(ctx, `SELECT `+versionColumns+versionFrom+`
		WHERE v.cluster_uid = $1 ORDER BY v.resource_version DESC`, uid)
	if err != nil {
		return nil, fmt.Errorf("inventory: versions of %q: %w", uid, err)
	}
	versions, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Version, error) { return scanVersion(row) })
	if err != nil {
		return nil, fmt.Errorf("inventory: versions of %q: %w", uid, err)
	}
	return versions, nil
}

// VersionPage returns up to limit versions of cluster uid older than
// resource version before (from the newest when before is 0), newest
// first, as VersionList has them: a keyset page read from the table's
// primary key, so its cost does not grow with the cluster's versions.
func VersionPage(ctx context.Context, q Querier, uid string, before int64, limit int) ([]Version, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := q.Query(ctx, `SELECT `+versionColumns+versionFrom+`
		WHERE v.cluster_uid = $1 AND v.resource_version < $2 ORDER BY v.resource_version DESC LIMIT $3`, uid, before, limit)
	if err != nil {
		return nil, fmt.Errorf("inventory: versions of %q: %w", uid, err)
	}
	versions, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Version, error) { return scanVersion(row) })
	if err != nil {
		return nil, fmt.Errorf("inventory: versions of %q: %w", uid, err)
	}
	return versions, nil
}

// VersionGet returns version rv of cluster uid as stored. Errors:
// ErrVersionNotFound.
func VersionGet(ctx context.Context, q Querier, uid string, rv int64) (Version, error) {
	v, err := scanVersion(q.QueryRow(ctx, `SELECT `+versionColumns+versionFrom+`
		WHERE v.cluster_uid = $1 AND v.resource_version = $2`, uid, rv))
	if errors.Is(err, pgx.ErrNoRows) {
		return Version{}, fmt.Errorf("inventory: version %d of %q: %w", rv, uid, ErrVersionNotFound)
	}
	if err != nil {
		return Version{}, fmt.Errorf("inventory: version %d of %q: %w", rv, uid, err)
	}
	return v, nil
}

// HistoryAPI is the API's history call; *cloudapi.Client has it. A Syncer
// whose API has it fills the gaps between the versions it reads.
type HistoryAPI interface {
	GetClusterVersion(ctx context.Context, id string, resourceVersion int64) (*cloudapi.Cluster, error)
}

// maxGap bounds how many missing versions of one cluster one read fetches;
// the next read fetches the rest.
const maxGap = 50

// fillGaps fetches from the history API the versions of clusters that came
// and went since the inventory last read them (Sync passes only the
// clusters that changed): for each cluster whose
// listed version is more than one above the stored one, the versions in
// between that are not stored yet. Each version is fetched once: a
// per-cluster lock is held while fetching and storing, and what is stored
// is not fetched again. Errors of the API are logged and left for the next
// read (the versions stay missing meanwhile); errors of the database are
// returned.
func (s *Syncer) fillGaps(ctx context.Context, clusters []row) error {
	history, ok := s.api.(HistoryAPI)
	if !ok {
		return nil
	}
	want := map[string]int64{}
	var ids []string
	for _, r := range clusters {
		want[r.uid] = r.resourceVersion
		ids = append(ids, r.uid)
	}
	if len(ids) == 0 {
		return nil
	}
	// The lowest live version is where Clusterdesk started following the
	// cluster; every version from there on belongs in the list.
	rows, err := s.pool.Query(ctx, `
		SELECT cluster_uid, min(resource_version) FILTER (WHERE source = 'live'), max(resource_version)
		FROM cluster_versions WHERE cluster_uid = ANY($1) GROUP BY cluster_uid`, ids)
	if err != nil {
		return fmt.Errorf("find version gaps: %w", err)
	}
	type known struct{ first, last int64 }
	have := map[string]known{}
	var (
		uid         string
		first, last *int64
	)
	_, err = pgx.ForEachRow(rows, []any{&uid, &first, &last}, func() error {
		if first != nil && last != nil {
			have[uid] = known{*first, *last}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("find version gaps: %w", err)
	}
	for _, id := range ids {
		k, ok := have[id]
		if !ok || want[id] <= k.last+1 {
			continue // a new cluster, or no gap above what is stored
		}
		if err := s.fetchMissing(ctx, history, id, k.first, want[id]-1); err != nil {
			return err
		}
	}
	return nil
}

// fetchMissing stores the versions of cluster uid in [from, to] that are
// not stored yet, fetched from the history API, at most maxGap of them
// (the newest).
func (s *Syncer) fetchMissing(ctx context.Context, history HistoryAPI, uid string, from, to int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('clusterdesk.history:' || $1, 0))", uid); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT g FROM generate_series($2::bigint, $3::bigint) g
			WHERE NOT EXISTS (SELECT 1 FROM cluster_versions WHERE cluster_uid = $1 AND resource_version = g)
			ORDER BY g DESC LIMIT $4`, uid, from, to, maxGap)
		if err != nil {
			return fmt.Errorf("missing versions of %s: %w", uid, err)
		}
		missing, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("missing versions of %s: %w", uid, err)
		}
		for _, rv := range missing {
			if err := s.fetchOne(ctx, tx, history, uid, rv, false); err != nil {
				s.logger.WarnContext(ctx, "inventory: could not fetch a version from the history; the next read tries again",
					"cluster", uid, "resource_version", rv, "error", err)
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
		return nil
	})
}

// fetchOne fetches version rv of cluster uid and stores it (history).
// A version from before Clusterdesk followed the cluster (before) is
// attributed at once: outside, without drift. Errors: the API's (wrapping
// cloudapi's not found) and the database's.
func (s *Syncer) fetchOne(ctx context.Context, tx pgx.Tx, history HistoryAPI, uid string, rv int64, before bool) error {
	c, err := history.GetClusterVersion(ctx, uid, rv)
	if err != nil {
		return err
	}
	spec, err := json.Marshal(c.Spec)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO cluster_versions (cluster_uid, resource_version, spec, source, fetched_at, outside, attributed_at)
		VALUES ($1, $2, $3, 'history', now(), CASE WHEN $4 THEN true END, CASE WHEN $4 THEN now() END)
		ON CONFLICT (cluster_uid, resource_version) DO NOTHING`, uid, rv, spec, before)
	return err
}

// Version returns version rv of cluster uid: as stored, or else fetched
// once from the history API and stored (a version from before Clusterdesk
// followed the cluster, e.g. to roll back to it). Errors:
// ErrVersionNotFound (the API has no such version, or no history call),
// ErrNotFound (unknown cluster), the API's.
func (s *Syncer) Version(ctx context.Context, uid string, rv int64) (Version, error) {
	v, err := VersionGet(ctx, s.pool, uid, rv)
	if !errors.Is(err, ErrVersionNotFound) {
		return v, err
	}
	history, ok := s.api.(HistoryAPI)
	if !ok {
		return Version{}, err
	}
	if _, err := ClusterGet(ctx, s.pool, uid); err != nil {
		return Version{}, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('clusterdesk.history:' || $1, 0))", uid); err != nil {
			return err
		}
		if _, err := VersionGet(ctx, tx, uid, rv); err == nil || !errors.Is(err, ErrVersionNotFound) {
			return err
		}
		var first *int64
		err := tx.QueryRow(ctx, `SELECT min(resource_version) FROM cluster_versions
			WHERE cluster_uid = $1 AND source = 'live'`, uid).Scan(&first)
		if err != nil {
			return err
		}
		return s.fetchOne(ctx, tx, history, uid, rv, first == nil || rv < *first)
	})
	if cloudapi.IsNotFound(err) {
		return Version{}, fmt.Errorf("inventory: version %d of %q: %w", rv, uid, ErrVersionNotFound)
	}
	if err != nil {
		return Version{}, fmt.Errorf("inventory: version %d of %q: %w", rv, uid, err)
	}
	return VersionGet(ctx, s.pool, uid, rv)
}
