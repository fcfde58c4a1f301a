package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/database"
)

const migrateUsage = `Applies or rolls back the database migrations embedded in this binary.
  up      apply every pending migration (safe to run from several replicas at once)
  down    roll back the most recent migration
  status  list every migration and when it was applied
  wait    return once the schema is at this binary's version (for an init
          container that holds a new release until its migrations ran)
Configuration: PORTAL_DATABASE_URL.`

func runMigrate(ctx context.Context, args []string, env lookupFunc, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate up|down|status", migrateUsage, stdout)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError{"migrate needs one of: up, down, status, wait"}
	}
	cfg, err := config.Load(env)
	if err != nil {
		return err
	}
	logger := cfg.Logger(stderr)
	pool, err := database.Open(ctx, cfg.DatabaseURL.Reveal())
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := database.NewMigrator(pool, logger)
	if err != nil {
		return err
	}
	defer m.Close()

	switch fs.Arg(0) {
	case "up":
		return m.Up(ctx)
	case "down":
		return m.Down(ctx)
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
		for _, s := range st {
			applied := "-"
			if !s.AppliedAt.IsZero() {
				applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, s.Source.Path)
		}
		return tw.Flush()
	case "wait":
		return waitForSchema(ctx, m, stdout)
	default:
		return usageError{fmt.Sprintf("migrate: unknown action %q; want up, down, status or wait", fs.Arg(0))}
	}
}

// waitForSchema polls until the schema is current, saying once that it
// waits; it returns the first error other than "behind", or ctx's.
func waitForSchema(ctx context.Context, m *database.Migrator, stdout io.Writer) error {
	said := false
	for {
		err := m.CheckCurrent(ctx)
		if !errors.Is(err, database.ErrSchemaBehind) {
			return err
		}
		if !said {
			fmt.Fprintf(stdout, "portal: waiting for portal migrate up (%v)\n", err)
			said = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
