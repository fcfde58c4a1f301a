package worker

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// loop is a background loop of the worker process, beside River's jobs:
// it runs until halt.
type loop struct {
	run  func(ctx context.Context)
	stop context.CancelFunc
	done chan struct{}
}

// start runs the loop until halt.
func (l *loop) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.stop, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		l.run(ctx)
	}()
}

// halt stops the loop and waits for a round in flight to end (its
// transaction commits or rolls back).
func (l *loop) halt() {
	if l.stop == nil {
		return
	}
	l.stop()
	<-l.done
	l.stop = nil
}

// auditChainer gives committed audit events their place in the hash chain
// (audit.Chain) shortly after they commit, so that appends never wait on
// the chain head. Every worker process runs one; audit.Chain lets one at a
// time work (the others find the head locked and skip a round), so the
// chain is made in one place and a process that dies mid-batch leaves the
// batch to the next chainer, rolled back whole.
func auditChainer(pool *pgxpool.Pool, logger *slog.Logger, interval time.Duration) *loop {
	interval = cmp.Or(interval, audit.ChainInterval)
	return &loop{run: func(ctx context.Context) {
		audit.ChainEvery(ctx, pool, interval, func(err error) {
			logger.ErrorContext(ctx, "audit: could not chain events; retrying", "err", err)
		})
	}}
}

// notifyRelay turns chained audit events into notification jobs
// (notify.Relay: the audit log is the outbox), as often as the chainer
// chains. Every worker with Options.Notify runs one; one works at a time.
func notifyRelay(pool *pgxpool.Pool, logger *slog.Logger, ins notify.Inserter, interval time.Duration) *loop {
	interval = cmp.Or(interval, audit.ChainInterval)
	return &loop{run: func(ctx context.Context) {
		notify.RelayEvery(ctx, pool, ins, interval, func(err error) {
			logger.ErrorContext(ctx, "notify: could not relay events; retrying", "err", err)
		})
	}}
}
