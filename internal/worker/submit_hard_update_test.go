package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// fileUpgrade files alice's version upgrade of uid, with or without the
// choice of a hard update.
func (f *subFixture) fileUpgrade(t *testing.T, uid string, hard bool) approvals.Request {
	t.Helper()
	c, spec := f.specOf(t, uid)
	spec.Version = "2024.09"
	r, err := f.svc.Create(context.Background(), f.alice, approvals.NewRequest{
		Kind: approvals.KindUpdate, ClusterUID: uid, Reason: "upgrade", Spec: &spec,
		SeenResourceVersion: &c.ResourceVersion, HardUpdate: hard,
	})
	require.NoError(t, err)
	return r
}

// forced returns the real (not dry-run) PATCH calls on uid, and which of
// them carried force=true, in order.
func (f *subFixture) forced(uid string) (patches []time.Time, force []bool) {
	for _, c := range f.sim.Calls() {
		if c.Operation != cloudapi.OpUpdateCluster || c.ClusterID != uid || strings.Contains(c.Path, "dryRun=true") {
			continue
		}
		patches = append(patches, c.Time)
		force = append(force, strings.Contains(c.Path, "force=true"))
	}
	return patches, force
}

// A version upgrade of a one-master cluster can only be a hard update.
// Without the requester's choice it is sent without force=true (and
// refused); with it, force=true goes out once, after the approvals its
// policy asks (two), never before.
func TestHardUpdateIsForcedOnlyWhenChosenAndApproved(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	f.start(t)

	plain := f.fileUpgrade(t, f.staging, false)
	f.approve(t, plain, f.bob)
	failed := f.wait(t, plain.ID)
	require.Equal(t, approvals.StateFailed, failed.State)
	_, force := f.forced(f.staging)
	require.Equal(t, []bool{false}, force, "the request without the choice never sends force=true")

	hard := f.fileUpgrade(t, f.staging, true)
	require.True(t, hard.Revision.Payload.HardUpdate)
	require.Contains(t, hard.Revision.RiskCodes(), approvals.RiskCode("hard_update"))
	out, err := f.svc.Approve(context.Background(), f.bob, hard.ID, approvals.Approve{Revision: 1, LiveResourceVersion: hard.Revision.BaseResourceVersion})
	require.NoError(t, err)
	require.False(t, out.Completed, "a hard update needs a second approval")
	_, force = f.forced(f.staging)
	require.Equal(t, []bool{false}, force, "nothing is sent before the approvals")

	approvedAt := time.Now()
	f.approve(t, hard, f.carol)
	require.Equal(t, approvals.StateSucceeded, f.wait(t, hard.ID).State)
	times, force := f.forced(f.staging)
	require.Equal(t, []bool{false, true}, force)
	require.True(t, times[1].After(approvedAt), "force=true went out after the second approval")
	c, err := f.client.GetCluster(context.Background(), f.staging)
	require.NoError(t, err)
	require.Equal(t, "2024.09", c.Spec.Version)
	f.verified(t)
}
