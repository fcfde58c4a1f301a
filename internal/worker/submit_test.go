package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

func TestSubmitAppliesAnApprovedUpdateOnce(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	f.start(t)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)

	done := f.wait(t, r.ID)
	require.Equal(t, approvals.StateSucceeded, done.State)
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	require.Equal(t, []string{"accepted"}, f.attempts(t, r.ID))
	require.Equal(t, []audit.Action{audit.RequestCreated, audit.RequestApproved, audit.SubmissionStarted,
		audit.SubmissionSucceeded, audit.SubmissionApplied}, f.actions(t, r.ID))
	f.verified(t)

	// The tracking reads refreshed the inventory and copied the events once.
	c, err := inventory.ClusterGet(ctx, f.pool, f.staging)
	require.NoError(t, err)
	require.Equal(t, r.Revision.BaseResourceVersion+1, c.ResourceVersion)
	require.Equal(t, int32(3), *c.Spec.Data.Tier1.Replicas)
	var events, distinct int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT (at, message)) FROM cluster_events WHERE request_id = $1`,
		r.ID).Scan(&events, &distinct))
	require.Positive(t, events)
	require.Equal(t, events, distinct)
	list, err := execution.ClusterEventList(ctx, f.pool, execution.ClusterEventFilter{RequestID: r.ID})
	require.NoError(t, err)
	require.Len(t, list, events)
	require.Equal(t, f.staging, list[0].ClusterUID)
	more, err := execution.ClusterEventList(ctx, f.pool, execution.ClusterEventFilter{ClusterUID: f.staging, AfterID: list[len(list)-1].ID})
	require.NoError(t, err)
	require.Empty(t, more, "catching up after the last one finds nothing new")

	sub, err := execution.SubmissionGet(ctx, f.pool, r.ID, r.Revision.Number)
	require.NoError(t, err)
	require.Equal(t, c.ResourceVersion, sub.TargetResourceVersion)
	require.Equal(t, string(cloudapi.StateStarted), sub.ClusterState)
	require.False(t, sub.FinishedAt.IsZero())
	pos, err := execution.QueuePosition(ctx, f.pool, r.ID, r.Revision.Number)
	require.NoError(t, err)
	require.Zero(t, pos, "a finished change is no longer queued")
	_ = time.Second
}
