// Package testdb gives each test its own real PostgreSQL database.
//
// One throwaway server is started per test binary (the same start-up code as
// `portal dev`), or PORTAL_TEST_DATABASE_URL names an existing server to use
// (it needs the right to create databases). A template database is migrated
// once; each test gets a clone of it (CREATE DATABASE … TEMPLATE, about 50 ms),
// so tests run in parallel without sharing rows.
//
// A package that uses it calls Main from TestMain:
//
//	func TestMain(m *testing.M) { testdb.Main(m) }
package testdb

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/pglocal"
)

var (
	once      sync.Once
	setupErr  error
	server    *pglocal.Server
	serverDir string
	adminURL  string // a URL whose path we replace with each database's name
	admin     *pgxpool.Pool
	template  string
	counter   atomic.Int64
	created   []string
	createdMu sync.Mutex
)

// Main runs the tests, then stops the server and removes its files.
func Main(m *testing.M) {
	code := m.Run()
	teardown()
	os.Exit(code)
}

// New returns a pool on a fresh, fully migrated database of its own. The pool
// closes when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), NewURL(t))
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewURL returns the connection URL of a fresh, fully migrated database, for
// tests that start the real program.
func NewURL(t testing.TB) string {
	t.Helper()
	ensure(t)
	return create(t, template)
}

// NewEmpty returns the URL of a fresh database with no schema at all.
func NewEmpty(t testing.TB) string {
	t.Helper()
	ensure(t)
	return create(t, "template0")
}

// Server is the local test server, nil when PORTAL_TEST_DATABASE_URL is used.
// Tests that stop and start the database use it.
func Server(t testing.TB) *pglocal.Server {
	t.Helper()
	ensure(t)
	return server
}

func create(t testing.TB, from string) string {
	t.Helper()
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{from}.Sanitize()); err != nil {
		t.Fatalf("testdb: create database from %s: %v", from, err)
	}
	createdMu.Lock()
	created = append(created, name)
	createdMu.Unlock()
	return withDatabase(adminURL, name)
}

func ensure(t testing.TB) {
	t.Helper()
	once.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("testdb: %v", setupErr)
	}
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	adminURL = os.Getenv("PORTAL_TEST_DATABASE_URL")
	if adminURL == "" {
		// The server runs as the postgres user when we are root, so its folder
		// must be reachable by that user: not under a private temp folder.
		dir, err := os.MkdirTemp("", "clusterdesk-testdb-")
		if err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		serverDir = dir
		server, err = pglocal.Start(ctx, pglocal.Options{DataDir: filepath.Join(dir, "data")})
		if err != nil {
			return err
		}
		adminURL = server.URL("postgres")
	}
	var err error
	if admin, err = pgxpool.New(ctx, adminURL); err != nil {
		return err
	}

	template = fmt.Sprintf("template_clusterdesk_%d", os.Getpid())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{template}.Sanitize()); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	created = append(created, template)
	pool, err := database.Open(ctx, withDatabase(adminURL, template))
	if err != nil {
		return err
	}
	defer pool.Close()
	migrator, err := database.NewMigrator(pool, nil)
	if err != nil {
		return err
	}
	defer migrator.Close()
	return migrator.Up(ctx)
}

func teardown() {
	if admin != nil && server == nil {
		// A shared server: drop what this run made.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, name := range created {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		}
	}
	if admin != nil {
		admin.Close()
	}
	if server != nil {
		_ = server.Stop()
		_ = os.RemoveAll(serverDir)
	}
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(fmt.Sprintf("testdb: bad PORTAL_TEST_DATABASE_URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}
