// Package database opens the PostgreSQL pool and applies the schema.
//
// The schema is the goose migrations embedded from package migrations, run
// through goose's Provider with a Postgres session lock, so replicas that start
// together migrate once.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/clusterdesk/clusterdesk/internal/telemetry"
	"github.com/clusterdesk/clusterdesk/migrations"
)

// ErrSchemaBehind means the database lacks migrations this binary knows.
var ErrSchemaBehind = errors.New("database: schema is behind")

// Open connects a pool to url and checks that the server answers.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database: parse url: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "clusterdesk"
	cfg.MaxConnIdleTime = 5 * time.Minute
	// A span per statement within traced work (off: a no-op).
	telemetry.TraceQueries(cfg.ConnConfig)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database: connect: %w", err)
	}
	return pool, nil
}

// Migrator applies and reports the embedded migrations.
type Migrator struct {
	db       *sql.DB
	provider *goose.Provider
}

// NewMigrator prepares migrations against the pool's database. Close it when
// done; the pool stays open.
func NewMigrator(pool *pgxpool.Pool, logger *slog.Logger) (*Migrator, error) {
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger), goose.WithVerbose(true))
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, opts...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	return &Migrator{db: db, provider: provider}, nil
}

// Close releases the migrator's connection handle.
func (m *Migrator) Close() error { return m.db.Close() }

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) error {
	if _, err := m.provider.Up(ctx); err != nil {
		return fmt.Errorf("database: migrate up: %w", err)
	}
	return nil
}

// Down rolls back the most recent migration.
func (m *Migrator) Down(ctx context.Context) error {
	if _, err := m.provider.Down(ctx); err != nil {
		return fmt.Errorf("database: migrate down: %w", err)
	}
	return nil
}

// DownTo rolls back every migration above version (0: all of them).
func (m *Migrator) DownTo(ctx context.Context, version int64) error {
	if _, err := m.provider.DownTo(ctx, version); err != nil {
		return fmt.Errorf("database: migrate down to %d: %w", version, err)
	}
	return nil
}

// Status lists every known migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("database: migration status: %w", err)
	}
	return st, nil
}

// CheckCurrent returns ErrSchemaBehind (wrapped, with the versions) when any
// embedded migration is not applied.
func (m *Migrator) CheckCurrent(ctx context.Context) error {
	current, target, err := m.provider.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("database: read schema version: %w", err)
	}
	if current < target {
		return fmt.Errorf("%w: at version %d, this binary needs %d", ErrSchemaBehind, current, target)
	}
	return nil
}
