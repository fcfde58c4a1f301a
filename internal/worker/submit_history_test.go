package worker

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// A rollback is sent as one PUT of the whole spec with
// spec.pivot.accessMode, keeps the fields it does not restore (deep
// storage moved outside Clusterdesk stays where it is), converges, and
// every version is attributed: the scale-up's, the drift, the rollback's.
// When the PUT's answer is lost, the next attempt finds the spec applied
// and does not send it again.
func TestSubmitRollbackIsOnePutThatKeepsTheFieldsItDoesNotRestore(t *testing.T) {
	t.Parallel()
	for _, lost := range []bool{false, true} {
		name := "answered"
		if lost {
			name = "answer lost"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := setupSubmission(t)
			f.start(t)
			origin := f.inventory(t, f.staging).ResourceVersion

			up := f.scaleUp(t, f.staging)
			f.approve(t, up, f.bob)
			require.Equal(t, approvals.StateSucceeded, f.wait(t, up.ID).State)

			_, err := f.client.UpdateCluster(ctx, f.staging,
				json.RawMessage(`{"spec":{"deepStorage":{"path":"s3://acme-druid-staging/moved"}}}`), cloudapi.Force())
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				c, err := f.syncer.Refresh(ctx, f.staging)
				require.NoError(t, err)
				return !c.State.Busy()
			}, 10*time.Second, 5*time.Millisecond)
			drifted := f.inventory(t, f.staging).ResourceVersion

			if lost {
				f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpReplaceCluster, ApplyThenDrop: true, Times: 1})
			}
			back, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindRollback,
				ClusterUID: f.staging, Reason: "undo the scale-up", RollbackTo: &origin})
			require.NoError(t, err)
			f.approve(t, back, f.bob, f.carol) // a scale-down needs two
			require.Equal(t, approvals.StateSucceeded, f.wait(t, back.ID).State)

			require.Equal(t, 1, f.mutations(cloudapi.OpReplaceCluster, f.staging), "exactly one effective PUT")
			var body string
			for _, c := range f.sim.Calls() {
				if c.Operation == cloudapi.OpReplaceCluster {
					body = c.Body
				}
			}
			var sent cloudapi.Cluster
			require.NoError(t, json.Unmarshal([]byte(body), &sent))
			require.Equal(t, cloudapi.AccessMode("PROXIED"), sent.Spec.Pivot.AccessMode)
			require.Equal(t, "s3://acme-druid-staging/moved", sent.Spec.DeepStorage.Path, "deep storage is not restored")
			require.Equal(t, cloudapi.DesiredStarted, sent.Spec.DesiredState)

			live := f.inventory(t, f.staging)
			require.Equal(t, int32(2), *live.Spec.Data.Tier1.Replicas)
			require.Equal(t, "s3://acme-druid-staging/moved", live.Spec.DeepStorage.Path)
			actions := f.actions(t, back.ID)
			require.Equal(t, lost, count(actions, audit.SubmissionReconciled) == 1)

			versions, err := inventory.VersionList(ctx, f.pool, f.staging)
			require.NoError(t, err)
			require.Len(t, versions, 4)
			require.Equal(t, back.ID, versions[0].ProducedBy)
			require.Equal(t, drifted, versions[1].ResourceVersion)
			require.True(t, versions[1].Outside)
			require.Equal(t, up.ID, versions[2].ProducedBy)
			require.True(t, versions[3].Outside, "the first version seen")
			drifts, err := approvals.DriftList(ctx, f.pool, f.staging)
			require.NoError(t, err)
			require.Len(t, drifts, 1)
			require.Equal(t, []string{"spec.deepStorage.path"}, drifts[0].Diff.Paths())
			f.verified(t)
		})
	}
}

// Syncs running all the time beside the worker never report a request's
// own change as drift, whichever commits first; the version is the
// request's.
func TestSubmitConcurrentSyncsNeverReportTheRequestsChangeAsDrift(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupSubmission(t)
	f.start(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = f.syncer.Sync(ctx)
			}
		})
	}
	var ids []int64
	for range 3 {
		r := f.scaleUp(t, f.staging)
		f.approve(t, r, f.bob)
		require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
		ids = append(ids, r.ID)
	}
	close(stop)
	wg.Wait()
	_, err := f.syncer.Sync(ctx)
	require.NoError(t, err)

	drifts, err := approvals.DriftList(ctx, f.pool, f.staging)
	require.NoError(t, err)
	require.Empty(t, drifts)
	versions, err := inventory.VersionList(ctx, f.pool, f.staging)
	require.NoError(t, err)
	require.Len(t, versions, 4)
	for i, id := range []int64{ids[2], ids[1], ids[0]} {
		require.True(t, versions[i].Attributed)
		require.Equal(t, id, versions[i].ProducedBy, "version %d", versions[i].ResourceVersion)
	}
}

// A rollback of a stopped cluster to a version recorded while it ran
// leaves it stopped: the PUT carries the live desired state, and the
// cluster converges stopped with the old size.
func TestSubmitRollbackNeverStartsAStoppedCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupSubmission(t)
	f.start(t)
	origin := f.inventory(t, f.staging)
	require.Equal(t, cloudapi.DesiredStarted, origin.Spec.DesiredState)
	for _, patch := range []string{`{"spec":{"data":{"tier1":{"replicas":3}}}}`, `{"spec":{"desiredState":"STOPPED"}}`} {
		_, err := f.client.UpdateCluster(ctx, f.staging, json.RawMessage(patch), cloudapi.Force())
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			c, err := f.syncer.Refresh(ctx, f.staging)
			require.NoError(t, err)
			return !c.State.Busy()
		}, 10*time.Second, 5*time.Millisecond)
	}

	back, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindRollback,
		ClusterUID: f.staging, Reason: "back to two data servers", RollbackTo: &origin.ResourceVersion})
	require.NoError(t, err)
	require.Equal(t, []string{"spec.data.tier1.replicas"}, back.Revision.Diff.Paths())
	f.approve(t, back, f.bob, f.carol)
	done := f.wait(t, back.ID)
	require.Equal(t, approvals.StateSucceeded, done.State)

	var sent cloudapi.Cluster
	for _, c := range f.sim.Calls() {
		if c.Operation == cloudapi.OpReplaceCluster {
			require.NoError(t, json.Unmarshal([]byte(c.Body), &sent))
		}
	}
	require.Equal(t, cloudapi.DesiredStopped, sent.Spec.DesiredState, "the desired state is not restored")
	live := f.inventory(t, f.staging)
	require.Equal(t, cloudapi.DesiredStopped, live.Spec.DesiredState)
	require.Equal(t, int32(2), *live.Spec.Data.Tier1.Replicas)
}
