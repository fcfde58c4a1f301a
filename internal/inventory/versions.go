package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Version is a resource version of a cluster that a sync or refresh saw.
type Version struct {
	ResourceVersion int64
	Spec            cloudapi.ClusterSpec
	FirstSeenAt     time.Time
}

// VersionList returns the versions of cluster uid seen so far, newest
// first; versions that came and went between two syncs are missing. An
// unknown cluster has none (not an error).
func VersionList(ctx context.Context, q Querier, uid string) ([]Version, error) {
	rows, err := q.Query(ctx, `
		SELECT resource_version, spec, first_seen_at FROM cluster_versions
		WHERE cluster_uid = $1 ORDER BY resource_version DESC`, uid)
	if err != nil {
		return nil, fmt.Errorf("inventory: versions of %q: %w", uid, err)
	}
	versions, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Version, error) {
		var v Version
		var spec []byte
		if err := row.Scan(&v.ResourceVersion, &spec, &v.FirstSeenAt); err != nil {
			return Version{}, err
		}
		return v, json.Unmarshal(spec, &v.Spec)
	})
	if err != nil {
		return nil, fmt.Errorf("inventory: versions of %q: %w", uid, err)
	}
	return versions, nil
}
