package approvals_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// BenchmarkApproveNotify measures what notifications add to the approve
// transaction. The audit log is their outbox (notify.Relay), so the
// transaction itself is the same with or without them; what they add is
// the relay reading the chained events and inserting the notify_event jobs
// beside the approvals, on the same database and CPU. The benchmark runs
// alternating rounds of 200 approvals with BENCH_APPROVERS (20) approvers
// at once, as BenchmarkApprove does, the audit chainer running throughout
// and the relay (at the worker's interval) only in every second round; it
// reports each kind of round's p50 and their ratio (on/off). The target is
// a ratio of at most 1.10. The notification jobs themselves (who is told,
// delivery) run later on the worker's notify queue and are not measured.
//
// Each relaying round starts its relay at the chain head and relays what
// is left once its approvals are done (untimed), so that it relays its own
// approvals, all of them and only them.
func BenchmarkApproveNotify(b *testing.B) {
	approvers := envInt("BENCH_APPROVERS", 20)
	ctx := context.Background()
	f := setup(b)
	inserter, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{})
	require.NoError(b, err)
	svc := approvals.New(f.pool, approvals.Config{})

	people := make([]approvals.Actor, approvers)
	for i := range people {
		people[i] = f.user(b, fmt.Sprintf("approver-%02d", i), false, "approvers")
	}
	template := f.file(b, f.alice, approvals.KindRestartServer, f.staging)
	live := template.Revision.BaseResourceVersion
	const round = 200
	rounds := max(2, (b.N+round-1)/round)
	rounds += rounds % 2 // as many with the relay as without
	ids := cloneRequests(b, f, template.ID, rounds*round)

	latencies := map[bool][]time.Duration{}
	stopChainer := runChainer(ctx, f.pool)
	b.ResetTimer()
	for r := range rounds {
		relaying := r%2 == 1
		var stopRelay func()
		if relaying {
			_, err := audit.ChainAll(ctx, f.pool)
			require.NoError(b, err)
			_, err = f.pool.Exec(ctx, "UPDATE notify_relay SET seq = (SELECT seq FROM audit_chain_head)")
			require.NoError(b, err)
			stopRelay = runRelay(ctx, f, inserter)
		}
		work := make(chan int64, round)
		for _, id := range ids[r*round : (r+1)*round] {
			work <- id
		}
		close(work)
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		for _, person := range people {
			wg.Go(func() {
				for id := range work {
					start := time.Now()
					out, err := svc.Approve(ctx, person, id, approvals.Approve{Revision: 1, LiveResourceVersion: live})
					took := time.Since(start)
					if err != nil || !out.Completed {
						b.Errorf("approve %d: %v (completed %v)", id, err, out.Completed)
					}
					mu.Lock()
					latencies[relaying] = append(latencies[relaying], took)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if relaying {
			stopRelay()
			_, err := audit.ChainAll(ctx, f.pool)
			require.NoError(b, err)
			for n := notify.RelayBatch; n == notify.RelayBatch; {
				n, err = notify.Relay(ctx, f.pool, inserter)
				require.NoError(b, err)
			}
		}
	}
	b.StopTimer()
	stopChainer()

	var queued int
	require.NoError(b, f.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'notify_event'`).Scan(&queued))
	require.Equal(b, rounds/2*round, queued, "one notification job per approval of the relaying rounds, none of the others")
	p50 := func(relaying bool) time.Duration {
		all := slices.Clone(latencies[relaying])
		slices.Sort(all)
		return percentile(all, 0.50)
	}
	off, on := p50(false), p50(true)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(off), "p50-off-ms")
	b.ReportMetric(ms(on), "p50-on-ms")
	b.ReportMetric(float64(on)/float64(off), "on/off")
	b.ReportMetric(0, "ns/op")
}

// runRelay relays as the worker does (notify.RelayEvery at
// audit.ChainInterval) until the returned function is called.
func runRelay(ctx context.Context, f *fixture, ins notify.Inserter) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		notify.RelayEvery(ctx, f.pool, ins, audit.ChainInterval, func(error) {})
	}()
	return func() { cancel(); <-done }
}
