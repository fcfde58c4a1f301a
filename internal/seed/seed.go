// Package seed fills a Clusterdesk database (and its Cloud Manager) with a
// realistic amount of data, one function per shape: clusters, change
// requests in every state, configuration versions of one cluster, and
// audit events. Tests and benchmarks use it to measure pages at scale, and
// `portal dev -seed-demo N` to let a person try the portal with N times the
// base amounts (Scale).
//
// Clusters and versions go through the Cloud Manager API (the simulator in
// development and tests), so the inventory's sync and the simulator agree.
// Requests and audit events are written set-wise, in the rows the portal's
// own paths write: requests through change_requests' trigger (so the
// counts by state stay exact), audit events hashed into the chain after its
// head, which still verifies. Seeding is for development and tests only:
// it writes tables other packages own.
package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Amounts are how much of each shape one scale factor means.
type Amounts struct {
	Clusters, Requests, Versions, AuditEvents int
}

// Base is scale 1: 30 clusters, 1,000 requests, 10 versions of one
// cluster, 10,000 audit events.
var Base = Amounts{Clusters: 30, Requests: 1000, Versions: 10, AuditEvents: 10_000}

// Scale returns Base times n.
func Scale(n int) Amounts {
	return Amounts{Clusters: Base.Clusters * n, Requests: Base.Requests * n, Versions: Base.Versions * n,
		AuditEvents: Base.AuditEvents * n}
}

// Users adds n people (username person-K, "Person K") who can be named
// as requesters and actors, and returns their ids. They are stored as a
// sign-in would store them, under the issuer "seed", and never sign in.
func Users(ctx context.Context, db *pgxpool.Pool, n int) ([]int64, error) {
	rows, err := db.Query(ctx, `
		INSERT INTO users (issuer, subject, username, name, email, groups, last_login_at)
		SELECT 'seed', 'seed-' || g || '-' || s.n, 'person-' || s.n + g, 'Person ' || s.n + g,
		       'person-' || s.n + g || '@example.com', '{developers}', now()
		FROM generate_series(1, $1::int) g,
		     (SELECT count(*) AS n FROM users WHERE issuer = 'seed') s
		RETURNING id`, n)
	if err != nil {
		return nil, fmt.Errorf("seed: users: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("seed: users: %w", err)
	}
	return ids, nil
}

// analyze refreshes the planner's statistics of tables after a bulk load,
// as autovacuum would shortly after.
func analyze(ctx context.Context, db *pgxpool.Pool, tables ...string) error {
	for _, t := range tables {
		if _, err := db.Exec(ctx, "ANALYZE "+pgx.Identifier{t}.Sanitize()); err != nil {
			return fmt.Errorf("seed: analyze %s: %w", t, err)
		}
	}
	return nil
}

// since is how long ago n events spaced every apart began, ending now.
func since(n int, every time.Duration) time.Duration { return time.Duration(n) * every }
