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
//
// It polls rather than listening: a NOTIFY in every appending transaction
// would serialise their commits on PostgreSQL's notification queue, the cost
// this design takes out of the request path. A poll is one index probe.
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

// start runs the loop until stop.
func (c *auditChainer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		ticker := time.NewTicker(c.interval)
		defer ticker.Stop()
		for {
			c.chain(ctx)
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
}

// chain chains batches until none is left or another chainer holds the
// head. An error is logged and retried on the next tick: the events wait,
// committed and unchained, and Verify counts them as pending.
func (c *auditChainer) chain(ctx context.Context) {
	var waiting bool
	err := c.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM audit_log WHERE seq >= $1)", audit.PendingBase).Scan(&waiting)
	for err == nil && waiting {
		var n int
		n, err = audit.Chain(ctx, c.pool)
		waiting = n == audit.ChainBatch
	}
	if err != nil && ctx.Err() == nil {
		c.logger.ErrorContext(ctx, "audit: could not chain events; retrying", "err", err)
	}
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
