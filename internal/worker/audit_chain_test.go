package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// TestWorkerChainsCommittedEvents: a running worker chains what appends
// leave unchained, without anyone verifying or exporting, and a stopped one
// leaves the rest for the next (here: Verify, which chains first).
func TestWorkerChainsCommittedEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	w, err := New(b.pool, b.logger, Options{AuditVerifyInterval: time.Hour, AuditChainInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, w.Start(ctx))

	appended := appendEvents(t, b.pool, 5)
	require.True(t, appended[4].Pending())
	require.Eventually(t, func() bool {
		head, err := audit.HeadGet(ctx, b.pool)
		require.NoError(t, err)
		return head.Pending == 0 && head.Seq >= 5
	}, 30*time.Second, 10*time.Millisecond, "the worker never chained the events")
	got, err := audit.Get(ctx, b.pool, appended[4].Seq)
	require.NoError(t, err)
	require.False(t, got.Pending())

	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, w.Stop(stopCtx))
	appendEvents(t, b.pool, 2)
	head, err := audit.HeadGet(ctx, b.pool)
	require.NoError(t, err)
	require.Equal(t, int64(2), head.Pending, "a stopped worker chains nothing")
	r, err := audit.Verify(ctx, b.pool)
	require.NoError(t, err)
	require.True(t, r.OK, r.String())
	require.Equal(t, head.Seq+2, r.HeadSeq)
}
