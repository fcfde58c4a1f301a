package approvals_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/seed"
)

// The counts by state are kept by a trigger in each state change's
// transaction: after concurrent changes on many connections, some of them
// rolled back, they equal a count of the table.
func TestCountsByStateStayExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	_, err := seed.Requests(ctx, f.pool, seed.RequestsOptions{N: 200, Open: 200, Requesters: []int64{f.alice.UserID}})
	require.NoError(t, err)
	var ids []int64
	rows, err := f.pool.Query(ctx, "SELECT id FROM change_requests WHERE state IN ('pending', 'approved') ORDER BY id")
	require.NoError(t, err)
	ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.NotEmpty(t, ids)

	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
				r, err := approvals.Lock(ctx, tx, id)
				if err != nil {
					return err
				}
				if err := approvals.SetState(ctx, tx, &r, approvals.StateCancelled); err != nil {
					return err
				}
				if i%3 == 0 {
					return errRollBack // this change never happened
				}
				return nil
			})
			if err != nil && !errors.Is(err, errRollBack) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	var waiting, running int
	require.NoError(t, f.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state IN ('pending', 'stale')),
		       count(*) FILTER (WHERE state IN ('approved', 'submitting', 'applying'))
		FROM change_requests`).Scan(&waiting, &running))
	counts, err := approvals.CountByState(ctx, f.pool)
	require.NoError(t, err)
	require.Equal(t, waiting, counts.Waiting)
	require.Equal(t, running, counts.Running)
	require.Positive(t, counts.Waiting, "the rolled-back changes left their requests where they were")
}

var errRollBack = errors.New("roll back")
