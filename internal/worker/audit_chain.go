package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// auditChainer gives committed audit events their place in the hash chain
// (audit.Chain) shortly after they commit, so that appends never wait on
// the chain head. Every worker process runs one; audit.Chain lets one at a
// time work (the others find the head locked and skip a round), so the
// chain is made in one place and a process that dies mid-batch leaves the
// batch to the next chainer, rolled back whole.
// The loop is audit.ChainEvery.
type auditChainer struct {
	pool     *pgxpool.Pool
	logger   *slog.Logger
	interval time.Duration
	stop     context.CancelFunc
	done     chan struct{}
}

func newAuditChainer(pool *pgxpool.Pool, logger *slog.Logger, interval time.Duration) *auditChainer {
	if interval <= 0 {
		interval = audit.ChainInterval
	}
	return &auditChainer{pool: pool, logger: logger, interval: interval}
}

// start runs the loop until halt.
func (c *auditChainer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		audit.ChainEvery(ctx, c.pool, c.interval, func(err error) {
			c.logger.ErrorContext(ctx, "audit: could not chain events; retrying", "err", err)
		})
	}()
}

// halt stops the loop and waits for a batch in flight to end (its
// transaction commits or rolls back).
func (c *auditChainer) halt() {
	if c.stop == nil {
		return
	}
	c.stop()
	<-c.done
	c.stop = nil
}
