package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// workerActor is who the audit log says acted for background jobs.
var workerActor = audit.System("worker")

// AuditVerifyArgs is the periodic walk of the whole audit chain.
type AuditVerifyArgs struct{}

// Kind names the job in River's tables.
func (AuditVerifyArgs) Kind() string { return "audit_verify" }

type auditVerifyWorker struct {
	river.WorkerDefaults[AuditVerifyArgs]
	pool     *pgxpool.Pool
	logger   *slog.Logger
	timeout  time.Duration
	observer Observer
}

// Timeout lets a long chain take up to the interval between runs (River's
// default is one minute).
func (w *auditVerifyWorker) Timeout(*river.Job[AuditVerifyArgs]) time.Duration {
	return max(w.timeout, time.Minute)
}

// Work verifies the chain and records the result as an audit.verified
// event, which the audit page reads for its banner. A broken chain is logged
// at error level: it is the alarm.
func (w *auditVerifyWorker) Work(ctx context.Context, _ *river.Job[AuditVerifyArgs]) error {
	start := time.Now()
	r, err := audit.Verify(ctx, w.pool)
	if err != nil {
		return err
	}
	if _, err := audit.RecordVerification(ctx, w.pool, workerActor, audit.Origin{}, r); err != nil {
		return err
	}
	observerOr(w.observer).AuditVerified(time.Now(), r.OK)
	logVerification(ctx, w.logger, r, time.Since(start))
	return nil
}

func logVerification(ctx context.Context, logger *slog.Logger, r audit.Result, took time.Duration) {
	if !r.OK {
		logger.ErrorContext(ctx, "audit log chain is BROKEN: investigate before trusting or pruning it (docs/audit.md)",
			"broken_seq", r.BrokenSeq, "problem", r.Problem, "events_checked", r.Events, "head_seq", r.HeadSeq)
		return
	}
	logger.InfoContext(ctx, "audit log verified", "events", r.Events, "head_seq", r.HeadSeq,
		"head_hash", r.HeadHash.String(), "took", took.Round(time.Millisecond).String())
}

// AuditPruneArgs removes audit events older than the retention period.
type AuditPruneArgs struct{}

// Kind names the job in River's tables.
func (AuditPruneArgs) Kind() string { return "audit_prune" }

type auditPruneWorker struct {
	river.WorkerDefaults[AuditPruneArgs]
	pool   *pgxpool.Pool
	logger *slog.Logger
	years  int
	now    func() time.Time
}

// Timeout allows for a full verification before pruning.
func (w *auditPruneWorker) Timeout(*river.Job[AuditPruneArgs]) time.Duration { return time.Hour }

// Work prunes, but only a chain that verifies: pruning a tampered segment
// would destroy the evidence. A broken chain is logged at error level and
// nothing is removed.
func (w *auditPruneWorker) Work(ctx context.Context, _ *river.Job[AuditPruneArgs]) error {
	cutoff := audit.RetentionCutoff(w.now(), w.years)
	if cutoff.IsZero() {
		return nil
	}
	due, err := audit.CountBefore(ctx, w.pool, cutoff)
	if err != nil || due == 0 {
		return err
	}
	r, err := audit.Verify(ctx, w.pool)
	if err != nil {
		return err
	}
	if !r.OK {
		logVerification(ctx, w.logger, r, 0)
		w.logger.ErrorContext(ctx, "audit prune skipped: the chain does not verify", "cutoff", cutoff)
		return nil
	}
	var p audit.Pruned
	err = pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		p, err = audit.Prune(ctx, tx, cutoff, workerActor)
		return err
	})
	if err != nil {
		return err
	}
	w.logger.InfoContext(ctx, "audit log pruned", "cutoff", cutoff, "retention_years", w.years,
		"pruned", p.Count, "first_seq", p.FirstSeq, "last_seq", p.LastSeq, "anchor_hash", p.AnchorHash.String())
	return nil
}
