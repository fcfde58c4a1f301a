// Command portal is Clusterdesk: the web portal, its background worker, its
// migrations and its development stack, as subcommands of one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/clusterdesk/clusterdesk/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], config.LookupEnv, os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	// One line per problem, each saying where it comes from.
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintln(os.Stderr, "portal:", line)
	}
	var problems config.Problems
	var usage usageError
	if errors.As(err, &problems) || errors.As(err, &usage) {
		os.Exit(2)
	}
	os.Exit(1)
}

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, env lookupFunc, stdout, stderr io.Writer) error
}

type lookupFunc = func(string) (string, bool)

func commands() []command {
	return []command{
		{"serve", "run the web server and the background worker", runServe},
		{"migrate", "apply, roll back or list database migrations (up, down, status)", runMigrate},
		{"audit", "verify the audit log's hash chain, print its head, or prune it (verify, head, prune)", runAudit},
		{"cloud", "check, read-only, what the portal assumes of the Cloud Manager tenant (check)", runCloud},
		{"sim", "run the Cloud Manager API simulator alone", runSim},
		{"dev", "run the whole stack locally with no set-up (PostgreSQL, simulator, identity provider)", runDev},
	}
}

// run is the whole program, callable from tests: it parses args, reads
// configuration through env and returns when ctx ends or the command fails.
func run(ctx context.Context, args []string, env lookupFunc, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return run(ctx, []string{args[1], "-h"}, env, stdout, stderr)
		}
		printUsage(stdout)
		return nil
	}
	for _, cmd := range commands() {
		if cmd.name == args[0] {
			err := cmd.run(ctx, args[1:], env, stdout, stderr)
			if errors.Is(err, errHelp) {
				return nil
			}
			return err
		}
	}
	printUsage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "Clusterdesk %s: self-service changes to Imply clusters, reviewed and audited.\n\nUsage: portal COMMAND [flags]\n\nCommands:\n", version)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "  %-9s %s\n\n", "help", "show this, or `portal help COMMAND` for one command")
	fmt.Fprintln(w, "Configuration comes from PORTAL_* environment variables: see docs/configuration.md.")
}
