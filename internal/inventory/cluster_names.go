package inventory

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ClusterNamesKnown lists the names of every cluster the portal has seen,
// deleted ones included (the audit log still names them), sorted, at most
// limit of them: suggestions for a cluster filter.
func ClusterNamesKnown(ctx context.Context, q Querier, limit int) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT name FROM clusters ORDER BY name LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("inventory: cluster names: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("inventory: cluster names: %w", err)
	}
	return names, nil
}
