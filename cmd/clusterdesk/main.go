// Command clusterdesk is the portal's command-line client: it lists
// clusters, files change requests and waits for their outcome, approves,
// and exports and verifies the audit log, through the JSON API
// (/api/v1, docs/api.md) with a bearer token. It is one static binary
// (CGO_ENABLED=0) with no configuration beyond a URL and a token, from the
// environment (CLUSTERDESK_URL, CLUSTERDESK_TOKEN) or a config file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit statuses. With --wait the status tells the outcome of the request.
const (
	exitOK        = 0 // done; with --wait: the change converged (succeeded)
	exitError     = 1 // the command failed (the message says why)
	exitUsage     = 2 // a mistake in the command line
	exitRejected  = 3 // --wait: an approver rejected the request
	exitFailed    = 4 // --wait: the change failed in Cloud Manager
	exitCancelled = 5 // --wait: cancelled or expired
	exitStale     = 6 // --wait: the cluster moved; the request needs a rebase
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr))
}

// exitError carries an exit status other than 1.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func usage(format string, args ...any) error {
	return &statusError{status: exitUsage, err: fmt.Errorf(format, args...)}
}

// run is the whole program, callable from tests; it returns the exit
// status.
func run(ctx context.Context, args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, env, stdin, stdout, stderr)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errHelp) {
		return exitOK
	}
	fmt.Fprintln(stderr, "clusterdesk:", err)
	var se *statusError
	if errors.As(err, &se) {
		if se.status == exitUsage {
			fmt.Fprintln(stderr, "Run `clusterdesk help` for the commands.")
		}
		return se.status
	}
	return exitError
}

var errHelp = errors.New("help")

const usageText = `clusterdesk %s: change requests for Imply clusters, from a terminal or a pipeline.

Usage: clusterdesk [global flags] COMMAND [flags]

Commands:
  clusters list [--name N] [--environment E] [--state S] [--all]
  clusters get CLUSTER                       a cluster by uid or name
  request update CLUSTER -f change.json|yaml [--reason R] [--hard-update] [--wait] [--dry-run]
  request get ID
  request list [--mine] [--awaiting] [--cluster C] [--state S]
  request cancel ID [--reason R]
  approve ID [--comment C]
  reject ID --comment C
  audit export [--since T] [--until T] [--format jsonl|csv] [--out FILE]
  audit verify [FILE]                        an export, offline; without FILE the portal's chain

Global flags (before the command):
  --url URL        the portal (CLUSTERDESK_URL)
  --token-env VAR  the variable holding the token (default CLUSTERDESK_TOKEN)
  --config FILE    a JSON file {"url": …, "token": …} (default ~/.config/clusterdesk/config.json)
  -o table|json    output for people (default) or scripts

request update takes a JSON or YAML file holding a JSON merge patch of the
cluster's spec ({"data": {"tier1": {"replicas": 3}}}), or an object with
"patch" or "spec" and optionally "reason" and "hard_update". It shows the
plan before filing. With --wait it follows the request until it converged
(exit 0), was rejected (3), failed (4), was cancelled or expired (5), or
went stale (6).
`
