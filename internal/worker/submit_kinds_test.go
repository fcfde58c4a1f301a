package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

func ptr[T any](v T) *T { return &v }

// Every kind of change reaches its converged state with one effective
// mutation, first cleanly and then after an attempt whose answer was lost
// (the change applied, the connection dropped: the next attempt
// reconciles instead of sending it again).
func TestSubmitEveryKind(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, f *subFixture, r approvals.Request)
	cases := []struct {
		name  string
		op    cloudapi.Operation
		file  func(t *testing.T, f *subFixture) approvals.Request
		check check
	}{
		{"stop", cloudapi.OpUpdateCluster,
			func(t *testing.T, f *subFixture) approvals.Request { return f.file(t, approvals.KindStop, f.staging) },
			func(t *testing.T, f *subFixture, r approvals.Request) {
				require.Equal(t, cloudapi.StateStopped, f.inventory(t, f.staging).State)
			}},
		{"start", cloudapi.OpUpdateCluster,
			func(t *testing.T, f *subFixture) approvals.Request { return f.file(t, approvals.KindStart, f.dev) },
			func(t *testing.T, f *subFixture, r approvals.Request) {
				require.Equal(t, cloudapi.StateStarted, f.inventory(t, f.dev).State)
			}},
		{"restart a server", cloudapi.OpRestartServer,
			func(t *testing.T, f *subFixture) approvals.Request {
				return f.file(t, approvals.KindRestartServer, f.staging)
			},
			func(t *testing.T, f *subFixture, r approvals.Request) {
				_, still := f.inventory(t, f.staging).Server(r.Revision.Payload.InstanceID)
				require.False(t, still)
			}},
		{"delete", cloudapi.OpDeleteCluster,
			func(t *testing.T, f *subFixture) approvals.Request { return f.file(t, approvals.KindDelete, f.dev) },
			func(t *testing.T, f *subFixture, r approvals.Request) {
				require.True(t, f.inventory(t, f.dev).Deleted())
			}},
		{"create", cloudapi.OpCreateCluster,
			func(t *testing.T, f *subFixture) approvals.Request {
				r, err := f.svc.Create(context.Background(), f.alice, approvals.NewRequest{
					Kind: approvals.KindCreate, Name: "newcube-dev", Reason: "a cube for the new team", Spec: newSpec(),
				})
				require.NoError(t, err)
				return r
			},
			func(t *testing.T, f *subFixture, r approvals.Request) {
				done, err := approvals.Get(context.Background(), f.pool, r.ID)
				require.NoError(t, err)
				require.NotEmpty(t, done.ClusterUID, "the request names the cluster it made")
				c := f.inventory(t, done.ClusterUID)
				require.Equal(t, "newcube-dev", c.Name)
				require.Equal(t, cloudapi.StateStarted, c.State)
			}},
	}
	for _, tc := range cases {
		for _, lost := range []bool{false, true} {
			name := tc.name
			if lost {
				name += ", answer lost"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f := setupSubmission(t)
				if lost {
					f.sim.InjectFault(sim.Fault{Operation: tc.op, ApplyThenDrop: true, Times: 1})
				}
				f.start(t)
				r := tc.file(t, f)
				f.approve(t, r, f.bob, f.carol) // delete needs two
				require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
				require.Equal(t, 1, f.mutations(tc.op, ""), "exactly one effective mutation")
				actions := f.actions(t, r.ID)
				require.Equal(t, 1, count(actions, audit.SubmissionSucceeded)+count(actions, audit.SubmissionReconciled))
				require.Equal(t, lost, count(actions, audit.SubmissionReconciled) == 1)
				require.Equal(t, audit.SubmissionApplied, actions[len(actions)-1])
				tc.check(t, f, r)
				f.verified(t)
			})
		}
	}
}

// A later change of a busy cluster waits its turn, in approval order, and
// shows its place in the queue; then it is applied after the first.
func TestSubmitOneChangePerClusterInApprovalOrder(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	// A restart keeps the resource version, so the second change's base
	// stays valid while it waits.
	first := f.file(t, approvals.KindRestartServer, f.staging)
	second := f.scaleUp(t, f.staging)
	f.approve(t, first, f.bob)
	f.approve(t, second, f.bob)
	f.sim.PauseUpdates()
	f.start(t)
	require.Eventually(t, func() bool {
		r, err := approvals.Get(ctx, f.pool, first.ID)
		require.NoError(t, err)
		return r.State == approvals.StateApplying
	}, 10*time.Second, 5*time.Millisecond)

	time.Sleep(200 * time.Millisecond) // the second job runs and snoozes meanwhile
	for id, want := range map[int64]int{first.ID: 1, second.ID: 2} {
		pos, err := execution.QueuePosition(ctx, f.pool, id, 1)
		require.NoError(t, err)
		require.Equal(t, want, pos)
	}
	queue, err := execution.ClusterQueue(ctx, f.pool, f.staging)
	require.NoError(t, err)
	require.Len(t, queue, 2)
	require.Equal(t, []int64{first.ID, second.ID}, []int64{queue[0].RequestID, queue[1].RequestID})
	require.Equal(t, []int{1, 2}, []int{queue[0].Position, queue[1].Position})
	require.Equal(t, approvals.StateApplying, queue[0].State)
	got, err := approvals.Get(ctx, f.pool, second.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StateApproved, got.State)
	require.Empty(t, f.attempts(t, second.ID), "nothing sent while the first change runs")

	f.sim.ResumeUpdates()
	require.Equal(t, approvals.StateSucceeded, f.wait(t, first.ID).State)
	require.Equal(t, approvals.StateSucceeded, f.wait(t, second.ID).State)
	require.Equal(t, 1, f.mutations(cloudapi.OpRestartServer, f.staging))
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	var restartAt, updateAt time.Time
	for _, c := range f.sim.Calls() {
		switch {
		case c.Mutated && c.Operation == cloudapi.OpRestartServer:
			restartAt = c.Time
		case c.Mutated && c.Operation == cloudapi.OpUpdateCluster:
			updateAt = c.Time
		}
	}
	require.True(t, restartAt.Before(updateAt), "approval order")
	f.verified(t)
}

func (f *subFixture) inventory(t *testing.T, uid string) inventory.Cluster {
	t.Helper()
	c, err := inventory.ClusterGet(context.Background(), f.pool, uid)
	require.NoError(t, err)
	return c
}

// newSpec is a valid spec for a new development cluster.
func newSpec() *cloudapi.ClusterSpec {
	return &cloudapi.ClusterSpec{
		Version: "2024.01", AWSInstanceRole: "imply-dev-instance",
		Master:      &cloudapi.MasterConfig{Replicas: ptr[int32](1), InstanceType: "t3.medium"},
		Query:       &cloudapi.QueryConfig{Replicas: ptr[int32](1), InstanceType: "t3.medium"},
		Data:        &cloudapi.DataConfig{Tier1: &cloudapi.DataTier{Replicas: ptr[int32](1), InstanceType: "t3.medium"}},
		DeepStorage: &cloudapi.DeepStorage{Path: "s3://acme-druid-dev/new"},
	}
}
