package worker

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/execution"
)

// BenchmarkApprovalToFirstCall measures the time from the commit of the
// approval that completes the policy to the first upstream request of its
// change (the simulator's log time of the restart call), with River's
// default fetch settings: the job insert is announced with LISTEN/NOTIFY,
// so it does not wait for the 1 s poll. Each change runs to the end before
// the next, as one cluster allows. Reports p50 and p99 in ms.
func BenchmarkApprovalToFirstCall(b *testing.B) {
	f := setupSubmissionB(b)
	ctx := context.Background()
	var latencies []time.Duration
	for b.Loop() {
		r := f.file(b, approvals.KindRestartServer, f.staging)
		_, err := f.svc.Approve(ctx, f.bob, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: r.Revision.BaseResourceVersion})
		require.NoError(b, err)
		committed := time.Now()
		require.Eventually(b, func() bool {
			got, err := approvals.Get(ctx, f.pool, r.ID)
			require.NoError(b, err)
			return got.State.Terminal()
		}, 20*time.Second, time.Millisecond)
		for _, c := range slices.Backward(f.sim.Calls()) {
			if c.Operation == cloudapi.OpRestartServer && c.Time.After(committed) {
				latencies = append(latencies, c.Time.Sub(committed))
				break
			}
		}
	}
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// setupSubmissionB is setupSubmission for a benchmark, with River's
// default fetch settings and the worker started.
func setupSubmissionB(b *testing.B) *subFixture {
	b.Helper()
	f := setupSubmission(b)
	w, err := New(f.pool, slog.New(slog.DiscardHandler), Options{
		AuditVerifyInterval: time.Hour,
		Execution: &execution.Options{API: f.client, Inventory: f.syncer,
			BusyWait: 50 * time.Millisecond, SettleTime: 300 * time.Millisecond, TrackInterval: 20 * time.Millisecond},
	})
	require.NoError(b, err)
	f.worker = w
	f.svc = approvals.New(f.pool, approvals.Config{OnApproved: w.OnApproved})
	require.NoError(b, w.Start(context.Background()))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(b, w.Stop(ctx))
	})
	return f
}
