package approvals_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

func ids(list []approvals.Request) []int64 {
	out := []int64{}
	for _, r := range list {
		out = append(out, r.ID)
	}
	return out
}

func TestLists(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	stagingStop := f.file(t, f.alice, approvals.KindStop, f.staging)           // default policy
	prodUpdate := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) { // production policy
		s.Query.Replicas = ptr[int32](3)
	})
	bobsRestart := f.file(t, f.bob, approvals.KindRestartServer, f.staging)
	cancelled := f.file(t, f.alice, approvals.KindDelete, f.dev)
	_, err := f.svc.Cancel(ctx, f.alice, cancelled.ID, "")
	require.NoError(t, err)

	byState, err := approvals.CountByState(ctx, f.pool)
	require.NoError(t, err)
	require.Equal(t, approvals.Counts{Waiting: 3}, byState, "three open, the cancelled one not counted")

	mine, err := approvals.ListMine(ctx, f.pool, f.alice.UserID, approvals.Page{})
	require.NoError(t, err)
	require.Equal(t, []int64{cancelled.ID, prodUpdate.ID, stagingStop.ID}, ids(mine), "newest first")
	page, err := approvals.ListMine(ctx, f.pool, f.alice.UserID, approvals.Page{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{cancelled.ID, prodUpdate.ID}, ids(page))
	page, err = approvals.ListMine(ctx, f.pool, f.alice.UserID, approvals.Page{Limit: 2, BeforeID: prodUpdate.ID})
	require.NoError(t, err)
	require.Equal(t, []int64{stagingStop.ID}, ids(page))

	awaiting := func(a approvals.Actor) []int64 {
		t.Helper()
		list, err := approvals.ListAwaiting(ctx, f.pool, a, approvals.Page{})
		require.NoError(t, err)
		return ids(list)
	}
	require.Equal(t, []int64{prodUpdate.ID, stagingStop.ID}, awaiting(f.bob), "not his own, not cancelled")
	require.Equal(t, []int64{bobsRestart.ID, prodUpdate.ID, stagingStop.ID}, awaiting(f.carol))
	require.Empty(t, awaiting(f.alice), "not an approver")
	require.Empty(t, awaiting(f.mallory))

	_, err = f.approve(t, f.carol, prodUpdate)
	require.NoError(t, err)
	require.Equal(t, []int64{bobsRestart.ID, stagingStop.ID}, awaiting(f.carol), "she approved it")
	require.Equal(t, []int64{prodUpdate.ID, stagingStop.ID}, awaiting(f.bob), "still needs a second approval")

	_, err = f.pool.Exec(ctx, `INSERT INTO policies (name, kinds, approvals_required, approver_groups)
		VALUES ('restarts by sre', '{restart_server}', 1, '{sre}')`)
	require.NoError(t, err)
	require.Equal(t, []int64{stagingStop.ID}, awaiting(f.carol), "the restart's policy names sre")

	recent, err := approvals.ListRecent(ctx, f.pool, approvals.Page{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{prodUpdate.ID, cancelled.ID}, ids(recent), "the approval touched the update last")

	forStaging, err := approvals.ListForCluster(ctx, f.pool, f.staging, approvals.Page{})
	require.NoError(t, err)
	require.Equal(t, []int64{bobsRestart.ID, stagingStop.ID}, ids(forStaging))

	counts, err := approvals.PendingCounts(ctx, f.pool, []string{f.staging, f.prod, f.dev})
	require.NoError(t, err)
	require.Equal(t, map[string]int{f.staging: 2, f.prod: 1}, counts)
}

func TestWhatItTakes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	first := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) { s.Data.Tier1.Replicas = ptr[int32](5) })
	second := f.update(t, f.bob, f.prod, func(s *cloudapi.ClusterSpec) {
		s.Data.Tier1.Replicas = ptr[int32](6)
		s.AWSKeyPair = "ops"
	})
	unrelated := f.update(t, f.bob, f.prod, func(s *cloudapi.ClusterSpec) { s.Version = "2024.07" })
	deletion := f.file(t, f.erin, approvals.KindDelete, f.prod)

	req, err := approvals.WhatItTakes(ctx, f.pool, first.ID, f.carol)
	require.NoError(t, err)
	require.Equal(t, "production", req.Policy.Name)
	require.Equal(t, 2, req.Needed())
	require.Equal(t, []string{"approvers"}, req.Policy.ApproverGroups)
	require.Zero(t, req.Given())
	require.True(t, req.CanApprove())
	require.Len(t, req.Overlaps, 3)
	byID := map[int64]approvals.Overlap{}
	for _, o := range req.Overlaps {
		byID[o.Request.ID] = o
	}
	require.Equal(t, []string{"spec.data.tier1.replicas"}, byID[second.ID].Paths)
	require.True(t, byID[second.ID].SameFields())
	require.False(t, byID[unrelated.ID].SameFields())
	require.True(t, byID[deletion.ID].WholeCluster)
	require.True(t, byID[deletion.ID].SameFields())

	for _, tc := range []struct {
		name   string
		viewer approvals.Actor
		want   error
	}{
		{"requester", f.alice, approvals.ErrOwnRequest},
		{"not an approver", f.mallory, approvals.ErrNotEligible},
	} {
		req, err := approvals.WhatItTakes(ctx, f.pool, first.ID, tc.viewer)
		require.NoError(t, err, tc.name)
		require.ErrorIs(t, req.Blocker, tc.want, tc.name)
		require.False(t, req.CanApprove(), tc.name)
	}

	_, err = f.approve(t, f.carol, first)
	require.NoError(t, err)
	req, err = approvals.WhatItTakes(ctx, f.pool, first.ID, f.carol)
	require.NoError(t, err)
	require.ErrorIs(t, req.Blocker, approvals.ErrConflict, "she already approved")
	require.Equal(t, 1, req.Given())
	require.Equal(t, f.carol.UserID, req.Approvals[0].Approver.ID)

	_, err = f.svc.Reject(ctx, f.carol, second.ID, approvals.Reject{Revision: 1, Comment: "conflicts with #1"})
	require.NoError(t, err)
	req, err = approvals.WhatItTakes(ctx, f.pool, second.ID, f.erin)
	require.NoError(t, err)
	require.ErrorIs(t, req.Blocker, approvals.ErrInvalidTransition)
	require.NotNil(t, req.Rejection)

	_, err = approvals.WhatItTakes(ctx, f.pool, 999999, f.carol)
	require.ErrorIs(t, err, approvals.ErrNotFound)
}
