package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/config"
	"github.com/clusterdesk/clusterdesk/internal/database"
)

const auditUsage = `Checks and maintains the audit log (docs/audit.md).
  verify  walk the whole hash chain; print "ok, N events, head hash H" or the
          first broken link, and record the check in the log. Exit status 1
          when the chain is broken. With -file, check a JSON Lines export
          instead, offline: no database needed.
  head    print the chain head (seq and hash), to publish outside the database
  prune   remove the events older than PORTAL_AUDIT_RETENTION_YEARS now,
          after verifying the chain; the pruning is itself audited
Configuration: PORTAL_DATABASE_URL, PORTAL_AUDIT_RETENTION_YEARS.`

// errChainBroken ends `portal audit verify` with exit status 1 once the
// report is printed.
var errChainBroken = errors.New("the audit chain is broken")

// cliActor is who the audit log says acted for these commands.
var cliActor = audit.System("cli")

func runAudit(ctx context.Context, args []string, env lookupFunc, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit verify|head|prune [flags]", auditUsage, stdout)
	dryRun := fs.Bool("dry-run", false, "prune: say what would be removed, remove nothing")
	file := fs.String("file", "", "verify: a JSON Lines export to check offline (- for standard input)")
	// The action may come first (portal audit verify -file x) or last.
	var action string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if action == "" && fs.NArg() == 1 {
		action = fs.Arg(0)
	} else if action == "" || fs.NArg() > 0 {
		fs.Usage()
		return usageError{"audit needs one of: verify, head, prune"}
	}
	if action != "verify" && action != "head" && action != "prune" {
		return usageError{fmt.Sprintf("audit: unknown action %q; want verify, head or prune", action)}
	}
	if *file != "" {
		if action != "verify" {
			return usageError{"-file goes with verify"}
		}
		return verifyExportFile(*file, stdout)
	}
	cfg, err := config.Load(env)
	if err != nil {
		return err
	}
	pool, err := database.Open(ctx, cfg.DatabaseURL.Reveal())
	if err != nil {
		return err
	}
	defer pool.Close()

	switch action {
	case "verify":
		start := time.Now()
		r, err := audit.Verify(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s)\n", r, time.Since(start).Round(time.Millisecond))
		if _, err := audit.RecordVerification(ctx, pool, cliActor, audit.Origin{}, r); err != nil {
			return err
		}
		if !r.OK {
			return errChainBroken
		}
		return nil
	case "head":
		h, err := audit.HeadChained(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seq %d hash %s events %d\n", h.Seq, h.Hash, h.Events)
		return nil
	default:
		return auditPrune(ctx, pool, cfg.AuditRetentionYears, *dryRun, stdout)
	}
}

// verifyExportFile checks a JSON Lines export without the database.
func verifyExportFile(name string, stdout io.Writer) error {
	in := io.Reader(os.Stdin)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	check, err := audit.VerifyExport(in)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, check)
	if !check.OK {
		return errChainBroken
	}
	return nil
}

func auditPrune(ctx context.Context, pool *pgxpool.Pool, years int, dryRun bool, stdout io.Writer) error {
	cutoff := audit.RetentionCutoff(time.Now(), years)
	if cutoff.IsZero() {
		fmt.Fprintln(stdout, "PORTAL_AUDIT_RETENTION_YEARS is 0: every event is kept, nothing to prune")
		return nil
	}
	due, err := audit.CountBefore(ctx, pool, cutoff)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d events are older than %s (%d years)\n", due, cutoff.Format(time.RFC3339), years)
	if dryRun || due == 0 {
		return nil
	}
	r, err := audit.Verify(ctx, pool)
	if err != nil {
		return err
	}
	if !r.OK {
		fmt.Fprintln(stdout, r)
		return fmt.Errorf("%w: nothing pruned; pruning would destroy the evidence", errChainBroken)
	}
	var p audit.Pruned
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		p, err = audit.Prune(ctx, tx, cutoff, cliActor)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pruned events %d to %d (%d); anchor hash %s\n", p.FirstSeq, p.LastSeq, p.Count, p.AnchorHash)
	return nil
}

// authActions maps the sign-in service's security events to audit actions.
var authActions = map[auth.EventKind]audit.Action{
	auth.EventLogin:       audit.AuthSignIn,
	auth.EventLogout:      audit.AuthSignOut,
	auth.EventLoginFailed: audit.AuthSignInFailed,
	auth.EventDenied:      audit.AuthDenied,
}

// auditRecorder writes sign-ins, sign-outs, failed sign-ins and denials to
// the audit log, each in a transaction of its own. A failure is logged and
// never fails the request. Events of clients nobody is signed in as are
// bounded (auth.LimitAnonymous, 5 a minute per client and kind, then one
// aggregate when the minute is over), and their details are
// auth.Event.Details: client-chosen text capped and marked as such.
func auditRecorder(pool *pgxpool.Pool, logger *slog.Logger) auth.Recorder {
	write := auth.RecorderFunc(func(ctx context.Context, e auth.Event) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		ev := authEvent(e)
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, ev)
			return err
		})
		if err != nil {
			logger.ErrorContext(ctx, "audit: could not record a security event", "event", string(e.Kind), "err", err)
		}
	})
	return auth.LimitAnonymous(write, auth.AnonymousLimit{
		AfterFunc: func(d time.Duration, f func()) { time.AfterFunc(d, f) },
	})
}

// authEvent is the audit form of a security event: the person (when known)
// acts on themselves as the subject; the data is e.Details (client-chosen
// text capped and marked).
func authEvent(e auth.Event) audit.Event {
	action, ok := authActions[e.Kind]
	if !ok {
		action = audit.AuthDenied
	}
	actor := audit.Actor{Type: audit.ActorUser, ID: "anonymous", Name: "(not signed in)"}
	subject := audit.Subject{Type: audit.SubjectUser}
	if e.UserID != 0 {
		id := strconv.FormatInt(e.UserID, 10)
		actor = audit.User(id, e.Username)
		subject.ID = id
	}
	return audit.Event{
		Actor:   actor,
		Action:  action,
		Subject: subject,
		Origin:  audit.Origin{IP: e.IP, RequestID: e.RequestID},
		Data:    e.Details(),
	}
}
