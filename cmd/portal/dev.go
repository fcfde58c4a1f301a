package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/pglocal"
)

const devUsage = `Runs the whole portal on this machine with nothing to set up: a private
PostgreSQL from the system's binaries (data kept under -data until make clean,
or in /var/tmp/clusterdesk-… when the server's user cannot enter -data),
migrations, and the portal at http://localhost:8080. Ctrl-C stops everything.
Any PORTAL_* variable you export overrides the development default.`

func runDev(ctx context.Context, args []string, env lookupFunc, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev [flags]", devUsage, stdout)
	dataDir := fs.String("data", ".dev", "folder for the development database and state")
	pgPort := fs.Int("pg-port", 54329, "port of the development PostgreSQL on 127.0.0.1")
	clean := fs.Bool("clean", false, "remove the development database and state (-data, and the database kept outside it), then exit")
	seedScale := fs.Int("seed-demo", 0, "add N times the demo data (30 clusters, 1,000 requests, 10 versions, 10,000 audit events per unit) before serving")
	withMail := fs.Bool("mail", true, "run Mailpit (built once from the version go.mod pins) and send the portal's email to it, unless PORTAL_SMTP_HOST is exported")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *clean {
		if err := pglocal.Remove(filepath.Join(*dataDir, "postgres")); err != nil {
			return err
		}
		return os.RemoveAll(*dataDir)
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return err
	}
	pgLog, err := os.OpenFile(filepath.Join(*dataDir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer pgLog.Close()
	// As root the server runs as the postgres user, who may not enter the
	// checkout (under /root, or made by mktemp -d): the database then lives
	// in /var/tmp, said once, with .dev/postgres a link to it.
	pgDir, err := pglocal.Locate(filepath.Join(*dataDir, "postgres"))
	if err != nil {
		return err
	}
	if pgDir.Linked {
		fmt.Fprintf(stdout, "portal dev: PostgreSQL runs as a user who cannot enter %s, so the development database is kept in %s instead; %s links to it and `make clean` (portal dev -clean) removes it.\n",
			pgDir.Blocked, pgDir.Dir, filepath.Join(*dataDir, "postgres"))
	}
	fmt.Fprintf(stdout, "portal dev: starting PostgreSQL in %s (log: %s)\n", pgDir.Dir, pgLog.Name())
	pg, err := pglocal.Start(ctx, pglocal.Options{
		DataDir: pgDir.Dir,
		Port:    *pgPort,
		Durable: true,
		Log:     pgLog,
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stdout, "portal dev: stopping PostgreSQL")
		if err := pg.Stop(); err != nil {
			fmt.Fprintln(stderr, "portal dev:", err)
		}
	}()
	if err := createDatabase(ctx, pg, "clusterdesk"); err != nil {
		return err
	}

	defaults := map[string]string{
		"PORTAL_DATABASE_URL":     pg.URL("clusterdesk"),
		"PORTAL_LOG_FORMAT":       "text",
		"PORTAL_SHUTDOWN_TIMEOUT": "5s",
		// The simulator is local and cheap to ask: a fresh inventory makes
		// changes show up at once.
		"PORTAL_INVENTORY_SYNC_INTERVAL": "2s",
		"PORTAL_TRACK_INTERVAL":          "1s",
		"PORTAL_METRICS_ADDR":            "127.0.0.1:8083",
	}
	// Identity provider (1/2): use devidp unless PORTAL_OIDC_ISSUER is exported.
	_, ownIdP := env("PORTAL_OIDC_ISSUER")
	if !ownIdP {
		maps.Copy(defaults, devIdPDefaults)
	}
	// Cloud Manager simulator (1/2): use it unless PORTAL_CLOUD_API_URL is exported.
	_, ownCloud := env("PORTAL_CLOUD_API_URL")
	if !ownCloud {
		maps.Copy(defaults, devSimDefaults)
	}
	// Mail catcher (1/2): Mailpit unless PORTAL_SMTP_HOST is exported.
	_, ownMail := env("PORTAL_SMTP_HOST")
	ownMail = ownMail || !*withMail
	if !ownMail {
		maps.Copy(defaults, devMailDefaults)
	}
	cfg, err := config.Load(withDefaults(env, defaults))
	if err != nil {
		return err
	}
	logger := cfg.Logger(stderr)
	// Cloud Manager simulator (2/2): serve it, keeping clusters in the data folder.
	if !ownCloud {
		_, stopSim, err := startSim(devSimAddr, sim.Config{
			StateFile:     filepath.Join(*dataDir, "sim.json"),
			SeedDemo:      true,
			StageDuration: 3 * time.Second,
			Logger:        logger.With("component", "sim"),
		}, logger)
		if err != nil {
			return err
		}
		defer stopSim()
		fmt.Fprintf(stdout, "portal dev: Cloud Manager simulator at http://%s/api/v1 (state: %s)\n", devSimAddr, filepath.Join(*dataDir, "sim.json"))
	}
	// Identity provider (2/2): start devidp before serve discovers it.
	if !ownIdP {
		stopIdP, err := startDevIdP(cfg, logger, stdout)
		if err != nil {
			return err
		}
		defer stopIdP()
	}
	// Mail catcher (2/2).
	if !ownMail {
		stopMail, err := startMailpit(ctx, *dataDir, devMailSMTP, devMailWeb, stdout, stderr)
		if err != nil {
			return err
		}
		defer stopMail()
		fmt.Fprintf(stdout, "portal dev: Mailpit (every email the portal sends) at http://%s, SMTP %s\n", devMailWeb, devMailSMTP)
	}
	if err := migrateUp(ctx, cfg); err != nil {
		return err
	}
	if *seedScale > 0 {
		if err := seedDemo(ctx, cfg, logger, *seedScale, stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "portal dev: PostgreSQL at %s\n", pg.URL("clusterdesk"))
	fmt.Fprintf(stdout, "portal dev: open %s\n", cfg.BaseURL)
	return serve(ctx, cfg, logger, stdout)
}

// The simulator of `portal dev`, and the portal's service account there.
const devSimAddr = "localhost:8081"

var devSimDefaults = map[string]string{
	"PORTAL_CLOUD_API_URL":       "http://" + devSimAddr + "/api/v1",
	"PORTAL_CLOUD_TOKEN_URL":     "http://" + devSimAddr + "/auth/realms/" + simOrg + "/protocol/openid-connect/token",
	"PORTAL_CLOUD_CLIENT_ID":     simClientID,
	"PORTAL_CLOUD_CLIENT_SECRET": simClientSecret,
}

// withDefaults looks a variable up in env first, then in defaults.
func withDefaults(env lookupFunc, defaults map[string]string) lookupFunc {
	return func(name string) (string, bool) {
		if v, ok := env(name); ok {
			return v, true
		}
		v, ok := defaults[name]
		return v, ok
	}
}

func createDatabase(ctx context.Context, pg *pglocal.Server, name string) error {
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

func migrateUp(ctx context.Context, cfg config.Config) error {
	pool, err := database.Open(ctx, cfg.DatabaseURL.Reveal())
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := database.NewMigrator(pool, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Up(ctx); err != nil {
		return errors.Join(err, errors.New("the development database may be from an older checkout: `make clean` resets it"))
	}
	return nil
}
