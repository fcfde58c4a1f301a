package seed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// RequestsOptions shape the change requests Requests files.
type RequestsOptions struct {
	// N is how many requests to file.
	N int
	// Requesters file them in turn (required).
	Requesters []int64
	// ClusterUIDs are the clusters they are filed on, in turn; empty means
	// every cluster in the inventory that exists.
	ClusterUIDs []string
	// Every is the time between two filings, the newest filed now: a
	// portal that grows gathers history, not activity. Zero means 15 min
	// (96 requests a day).
	Every time.Duration
	// Open is how many of the newest are still open (pending, stale,
	// approved, submitting or applying, in turn); the older ones have
	// finished (mostly succeeded; some failed, rejected, cancelled or
	// expired), an hour after their filing. Negative means none; zero 60.
	Open int
}

// Requests files o.N update requests (one more query server each) as
// set-wise SQL: the rows of change_requests and request_revisions that
// filing them, and moving them on, leaves, with the counts by state kept
// by the table's trigger. It returns how many it filed.
func Requests(ctx context.Context, db *pgxpool.Pool, o RequestsOptions) (int, error) {
	if len(o.Requesters) == 0 {
		return 0, errors.New("seed: requests: no requester")
	}
	if o.Every <= 0 {
		o.Every = 15 * time.Minute
	}
	switch {
	case o.Open < 0:
		o.Open = 0
	case o.Open == 0:
		o.Open = 60
	}
	if o.ClusterUIDs == nil {
		o.ClusterUIDs = []string{}
	}
	var n int
	err := db.QueryRow(ctx, requestsSQL, o.N, o.ClusterUIDs, o.Requesters, o.Open, o.Every).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("seed: requests: %w", err)
	}
	return n, analyze(ctx, db, "change_requests", "request_revisions")
}

// requestsSQL: $1 how many, $2 the clusters (empty: all that exist), $3
// the requesters, $4 how many of the newest are open, $5 the time between
// two filings. The g-th request is filed ($1 - g) intervals ago, so each
// has its own filing time, by which the revisions find their request.
const requestsSQL = `
WITH cl AS (
	SELECT row_number() OVER (ORDER BY name, uid) - 1 AS i, uid, name, spec, resource_version, environment
	FROM clusters
	WHERE deleted_at IS NULL AND (cardinality($2::text[]) = 0 OR uid = ANY ($2))
), src AS (
	SELECT g, cl.uid, cl.name, cl.spec, cl.resource_version, cl.environment,
	       ($3::bigint[])[1 + g % cardinality($3::bigint[])] AS requester,
	       now() - ($1::int - g) * $5::interval AS filed,
	       CASE WHEN g > $1::int - $4::int
	            THEN (ARRAY['pending', 'stale', 'approved', 'submitting', 'applying', 'pending'])[1 + g % 6]
	            ELSE (ARRAY['succeeded', 'succeeded', 'succeeded', 'failed', 'succeeded', 'rejected',
	                        'succeeded', 'cancelled', 'succeeded', 'expired', 'succeeded', 'succeeded'])[1 + g % 12]
	       END AS state,
	       coalesce((cl.spec #>> '{query,replicas}')::int, 1) AS replicas
	FROM generate_series(1, $1::int) g
	JOIN cl ON cl.i = g % (SELECT count(*) FROM cl)
), filed AS (
	INSERT INTO change_requests (kind, cluster_uid, cluster_name, requester_id, state, created_at, updated_at)
	SELECT 'update', uid, name, requester, state, filed,
	       CASE WHEN state IN ('pending', 'stale', 'approved', 'submitting', 'applying') THEN filed
	            ELSE filed + interval '1 hour' END
	FROM src ORDER BY g
	RETURNING id, created_at
), revised AS (
	INSERT INTO request_revisions (request_id, revision, author_id, reason, base_resource_version, base_spec,
	                               proposed_spec, diff, diff_hash, environments, created_at)
	SELECT f.id, 1, s.requester, 'More query capacity for the month-end reports (seeded)', s.resource_version, s.spec,
	       jsonb_set(s.spec, '{query,replicas}', to_jsonb(s.replicas + 1)),
	       d.diff, sha256(convert_to(d.diff::text, 'UTF8')), ARRAY[s.environment], s.filed
	FROM filed f
	JOIN src s ON s.filed = f.created_at
	CROSS JOIN LATERAL (SELECT jsonb_build_array(jsonb_build_object(
		'path', 'spec.query.replicas', 'before', s.replicas, 'after', s.replicas + 1)) AS diff) d
	RETURNING 1
)
SELECT count(*) FROM revised`
