package database_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func migrator(t *testing.T, url string) (*database.Migrator, *pgxpool.Pool) {
	t.Helper()
	pool, err := database.Open(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	m, err := database.NewMigrator(pool, nil)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m, pool
}

func tables(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version' ORDER BY 1`)
	require.NoError(t, err)
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	return names
}

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	m, pool := migrator(t, testdb.NewEmpty(t))
	ctx := t.Context()

	require.ErrorIs(t, m.CheckCurrent(ctx), database.ErrSchemaBehind)
	require.NoError(t, m.Up(ctx))
	require.NoError(t, m.CheckCurrent(ctx))
	afterUp := tables(t, pool)
	require.Contains(t, afterUp, "river_job")

	require.NoError(t, m.DownTo(ctx, 0))
	require.Empty(t, tables(t, pool), "every Down must undo its Up")
	require.ErrorIs(t, m.CheckCurrent(ctx), database.ErrSchemaBehind)

	require.NoError(t, m.Up(ctx))
	require.Equal(t, afterUp, tables(t, pool))
}

func TestEachMigrationStepsDownAndUp(t *testing.T) {
	t.Parallel()
	m, _ := migrator(t, testdb.NewEmpty(t))
	ctx := t.Context()
	require.NoError(t, m.Up(ctx))
	st, err := m.Status(ctx)
	require.NoError(t, err)
	for range st {
		require.NoError(t, m.Down(ctx))
	}
	require.NoError(t, m.Up(ctx))
	require.NoError(t, m.CheckCurrent(ctx))
}

func TestConcurrentMigrateOnce(t *testing.T) {
	t.Parallel()
	url := testdb.NewEmpty(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			m, _ := migrator(t, url)
			errs <- m.Up(context.Background())
		}()
	}
	require.NoError(t, errors.Join(<-errs, <-errs))
	m, _ := migrator(t, url)
	require.NoError(t, m.CheckCurrent(t.Context()))
}
