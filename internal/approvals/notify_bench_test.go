package approvals_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// BenchmarkApproveNotify measures what notifications add to the approve
// transaction: the OnEvent hook inserting the notify_event job (River's
// InsertTx) in the approving transaction, the transactional outbox. Two
// services approve on one pool in alternating rounds of 40 approvals with
// BENCH_APPROVERS (20) approvers at once, as BenchmarkApprove does, one
// without the hook and one with it, so that both see the same database and
// load; it reports each one's p50 and their ratio (on/off). The target is
// a ratio of at most 1.10. Delivery itself runs later on the worker and is
// not part of the transaction.
func BenchmarkApproveNotify(b *testing.B) {
	approvers := envInt("BENCH_APPROVERS", 20)
	ctx := context.Background()
	f := setup(b)
	pool, err := pgxpool.NewWithConfig(ctx, f.pool.Config().Copy())
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(b, err)
	services := map[bool]*approvals.Service{
		false: approvals.New(pool, approvals.Config{}),
		true:  approvals.New(pool, approvals.Config{OnEvent: notify.Hook(inserter)}),
	}

	people := make([]approvals.Actor, approvers)
	for i := range people {
		people[i] = f.user(b, fmt.Sprintf("approver-%02d", i), false, "approvers")
	}
	template := f.file(b, f.alice, approvals.KindRestartServer, f.staging)
	live := template.Revision.BaseResourceVersion
	const round = 40
	rounds := max(2, (b.N+round-1)/round)
	rounds += rounds % 2 // as many with the hook as without
	ids := cloneRequests(b, f, template.ID, rounds*round)

	latencies := map[bool][]time.Duration{}
	stopChainer := runChainer(ctx, f.pool)
	b.ResetTimer()
	for r := range rounds {
		hooked := r%2 == 1
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
					out, err := services[hooked].Approve(ctx, person, id, approvals.Approve{Revision: 1, LiveResourceVersion: live})
					took := time.Since(start)
					if err != nil || !out.Completed {
						b.Errorf("approve %d: %v (completed %v)", id, err, out.Completed)
					}
					mu.Lock()
					latencies[hooked] = append(latencies[hooked], took)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	stopChainer()

	var queued int
	require.NoError(b, f.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'notify_event'`).Scan(&queued))
	require.Equal(b, rounds/2*round, queued, "one notification job per approval with the hook, none without")
	p50 := func(hooked bool) time.Duration {
		all := slices.Clone(latencies[hooked])
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
