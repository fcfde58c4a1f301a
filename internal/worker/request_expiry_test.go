package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// TestRequestExpireJob: the job expires the pending requests untouched for
// longer than the configured time, and no other.
func TestRequestExpireJob(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	old := f.file(t, approvals.KindStart, f.dev)
	w := &requestExpireWorker{svc: approvals.New(f.pool, approvals.Config{}), after: 7 * 24 * time.Hour, now: time.Now}
	require.NoError(t, w.Work(ctx, nil))
	got, err := approvals.Get(ctx, f.pool, old.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StatePending, got.State, "touched today")

	w.now = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	require.NoError(t, w.Work(ctx, nil))
	got, err = approvals.Get(ctx, f.pool, old.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StateExpired, got.State)
	require.Contains(t, f.actions(t, old.ID), audit.RequestExpired)
}
