package worker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Two worker processes on one database race on many approvals at once
// (F12, scaled down to keep the package fast): every change is applied
// exactly once, each by one of them.
func TestSubmitTwoWorkersRacing(t *testing.T) {
	t.Parallel()
	const clusters = 24
	f := setupSubmission(t)
	ctx := context.Background()

	var uids []string
	for i := range clusters {
		c, err := f.client.CreateCluster(ctx, &cloudapi.Cluster{
			Metadata: cloudapi.ObjectMeta{Name: fmt.Sprintf("race-%02d-dev", i)}, Spec: *newSpec()})
		require.NoError(t, err)
		uids = append(uids, c.Metadata.UID)
	}
	require.Eventually(t, func() bool {
		list, err := f.client.ListClusters(ctx)
		require.NoError(t, err)
		for _, c := range list {
			if c.Status.State != cloudapi.StateStarted && c.Status.State != cloudapi.StateStopped {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
	_, err := f.syncer.Sync(ctx)
	require.NoError(t, err)
	f.sim.ResetCalls()

	second, err := New(f.pool, slog.New(slog.DiscardHandler), Options{
		AuditVerifyInterval: time.Hour, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		Submission: &SubmissionOptions{API: f.client, Inventory: f.syncer,
			RetryBase: 20 * time.Millisecond, BusyWait: 30 * time.Millisecond, TrackInterval: 20 * time.Millisecond},
	})
	require.NoError(t, err)
	f.start(t)
	require.NoError(t, second.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, second.Stop(stopCtx))
	})

	requests := make([]approvals.Request, len(uids))
	for i, uid := range uids {
		requests[i] = f.file(t, approvals.KindRestartServer, uid)
	}
	errs := make([]error, len(requests))
	var wg sync.WaitGroup
	for i, r := range requests {
		wg.Go(func() {
			_, errs[i] = f.svc.Approve(ctx, f.bob, r.ID, approvals.Approve{
				Revision: r.Revision.Number, LiveResourceVersion: r.Revision.BaseResourceVersion})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	for _, r := range requests {
		require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	}
	perCluster := map[string]int{}
	for _, c := range f.sim.Calls() {
		if c.Mutated {
			require.Equal(t, cloudapi.OpRestartServer, c.Operation)
			perCluster[c.ClusterID]++
		}
	}
	require.Len(t, perCluster, clusters)
	for uid, n := range perCluster {
		require.Equal(t, 1, n, "cluster %s restarted %d times", uid, n)
	}
	var attempts int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM submission_attempts`).Scan(&attempts))
	require.Equal(t, clusters, attempts)
	for _, uid := range uids {
		_, err := inventory.ClusterGet(ctx, f.pool, uid)
		require.NoError(t, err)
	}
	f.verified(t)
}
