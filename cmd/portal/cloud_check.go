package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudcheck"
	"github.com/clusterdesk/clusterdesk/internal/config"
)

const cloudUsage = `Checks the Cloud Manager tenant the configuration points at.
  check  verify, without changing anything, what the portal assumes of the
         API (docs/cloud-manager-api/BEHAVIOUR.md): list the clusters, read
         one and its history, dry-run a no-op PATCH and a PUT of its
         document as read, and probe the restart route with a server that
         cannot exist. Only GET and dryRun=true calls leave the process.
         Prints each assumption as confirmed, contradicted (with what was
         seen) or not checkable; exit status 1 when one is contradicted.
Configuration: PORTAL_CLOUD_* (docs/configuration.md); no database needed.`

// errContradicted ends `portal cloud check` with exit status 1 once the
// report is printed.
var errContradicted = errors.New("the tenant contradicts the configuration")

func runCloud(ctx context.Context, args []string, env lookupFunc, stdout, stderr io.Writer) error {
	fs := newFlagSet("cloud check", cloudUsage, stdout)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "check" {
		fs.Usage()
		return usageError{"cloud needs the action check"}
	}
	cfg, err := config.Load(withoutDatabase(env))
	if err != nil {
		return err
	}
	if err := checkCloudConfig(cfg); err != nil {
		return err
	}
	logger := cfg.Logger(stderr)
	fmt.Fprintf(stdout, "Checking %s against the configured assumptions (read-only)…\n\n", cfg.CloudAPIURL)
	report, err := cloudcheck.Run(ctx, cloudConfig(cfg, logger), cloudBehaviour(cfg))
	if err != nil {
		return config.Problems{"PORTAL_CLOUD_*: " + err.Error()}
	}
	if err := report.Write(stdout); err != nil {
		return err
	}
	if n := report.Count(cloudcheck.Contradicted); n > 0 {
		return fmt.Errorf("%w: %d assumption(s) contradicted; change the settings named above (docs/configuration.md) or tell us what the tenant does", errContradicted, n)
	}
	return nil
}

// withoutDatabase reads env, with a placeholder for PORTAL_DATABASE_URL
// when it is not set: commands that never connect do not need it.
func withoutDatabase(env lookupFunc) lookupFunc {
	return func(name string) (string, bool) {
		v, ok := env(name)
		if name == "PORTAL_DATABASE_URL" && (!ok || v == "") {
			return "postgres://unused/unused", true
		}
		return v, ok
	}
}

// checkCloudConfig reports what a call to Cloud Manager needs: the API URL
// and a credential (CheckServe's PORTAL_CLOUD_* lines), and assumptions
// that make sense.
func checkCloudConfig(cfg config.Config) error {
	var problems config.Problems
	if err := cfg.CheckServe(); err != nil {
		for _, p := range err.(config.Problems) {
			if strings.HasPrefix(p, "PORTAL_CLOUD_") {
				problems = append(problems, p)
			}
		}
	}
	if err := checkBehaviour(cfg); err != nil {
		problems = append(problems, err.(config.Problems)...)
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}

// checkBehaviour reports assumed API behaviour that cannot be right: a
// restart route without its placeholders, a state both running and busy.
func checkBehaviour(cfg config.Config) error {
	if err := cloudBehaviour(cfg).WithDefaults().Validate(); err != nil {
		return config.Problems{"PORTAL_CLOUD_RESTART_ROUTE, PORTAL_CLOUD_*_STATES: " + err.Error()}
	}
	return nil
}
