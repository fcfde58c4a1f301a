package approvals_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

func TestPolicyEligibleNeedsTheRoleAndAPolicyGroup(t *testing.T) {
	t.Parallel()
	p := approvals.Policy{Name: "default", ApproverGroups: []string{"approvers"}}
	for _, tc := range []struct {
		name     string
		approver bool
		groups   []string
		want     error // nil: eligible
	}{
		{"role and a policy group", true, []string{"change-approvers", "approvers"}, nil},
		{"a policy group without the role", false, []string{"approvers"}, approvals.ErrNoApproverRole},
		{"the role without a policy group", true, []string{"change-approvers"}, approvals.ErrNotEligible},
		{"neither", false, []string{"developers"}, approvals.ErrNoApproverRole},
		{"the zero actor", false, nil, approvals.ErrNoApproverRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Eligible(approvals.Actor{Approver: tc.approver, Groups: tc.groups})
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, err, approvals.ErrNotEligible)
			require.ErrorIs(t, err, approvals.ErrForbidden)
		})
	}
	noRole := p.Eligible(approvals.Actor{Groups: []string{"approvers"}})
	outside := p.Eligible(approvals.Actor{Approver: true, Groups: []string{"change-approvers"}})
	require.NotErrorIs(t, outside, approvals.ErrNoApproverRole, "holds the role: the policy's groups are what is missing")
	require.ErrorContains(t, outside, `policy "default" asks for a member of approvers`)
	require.NotEqual(t, noRole.Error(), outside.Error())
}

// TestQueueAndDecisionsAgree: with the approver role granted by
// change-approvers and the seeded policies naming approvers, the queue
// (ListAwaiting), the approve button (WhatItTakes) and the decisions
// (Approve, Reject) give one answer for each person.
func TestQueueAndDecisionsAgree(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	// The role as PORTAL_APPROVER_GROUPS=change-approvers grants it.
	person := func(name string, groups ...string) approvals.Actor {
		a := f.user(t, name, false, groups...)
		a.Approver = slices.Contains(groups, "change-approvers")
		return a
	}
	policyOnly := person("paula", "approvers")
	roleOnly := person("rolf", "change-approvers")
	both := person("bea", "approvers", "change-approvers")
	r := f.file(t, f.alice, approvals.KindStop, f.staging) // default: one approval from approvers

	for _, tc := range []struct {
		name  string
		actor approvals.Actor
		want  error // nil: may approve
	}{
		{"in the policy's group without the role", policyOnly, approvals.ErrNoApproverRole},
		{"with the role outside the policy's groups", roleOnly, approvals.ErrNotEligible},
		{"with the role and in the policy's group", both, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			queue, err := approvals.ListAwaiting(ctx, f.pool, tc.actor, approvals.Page{})
			require.NoError(t, err)
			takes, err := approvals.WhatItTakes(ctx, f.pool, r.ID, tc.actor)
			require.NoError(t, err)
			if tc.want != nil {
				require.NotContains(t, ids(queue), r.ID, "not in the queue")
				require.ErrorIs(t, takes.Blocker, tc.want, "no approve button")
				_, err = f.approve(t, tc.actor, r)
				require.ErrorIs(t, err, tc.want, "approve refused")
				_, err = f.svc.Reject(ctx, tc.actor, r.ID, approvals.Reject{Revision: 1, Comment: "no"})
				require.ErrorIs(t, err, tc.want, "reject refused")
				require.Equal(t, approvals.StatePending, state(t, f, r.ID))
				return
			}
			require.Contains(t, ids(queue), r.ID, "in the queue")
			require.NoError(t, takes.Blocker, "an approve button")
			out, err := f.approve(t, tc.actor, r)
			require.NoError(t, err)
			require.True(t, out.Completed)
		})
	}
}

func TestPolicyGroupsOutside(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	outside, err := approvals.PolicyGroupsOutside(ctx, f.pool, []string{"approvers"})
	require.NoError(t, err)
	require.Empty(t, outside, "the seeded policies name approvers only")

	outside, err = approvals.PolicyGroupsOutside(ctx, f.pool, []string{"change-approvers"})
	require.NoError(t, err)
	var names []string
	for _, o := range outside {
		require.Equal(t, "approvers", o.Group)
		require.True(t, o.Enabled)
		names = append(names, o.Policy)
	}
	require.Equal(t, []string{"default", "production", "delete", "scale-down", "hard-update"}, names)

	_, err = f.pool.Exec(ctx, `
		INSERT INTO policies (name, environments, kinds, risks, approvals_required, approver_groups, enabled) VALUES
			('prod restarts', '{production}', '{restart_server}', '{}', 3, '{sre,approvers}', false)`)
	require.NoError(t, err)
	outside, err = approvals.PolicyGroupsOutside(ctx, f.pool, []string{"approvers", "change-approvers"})
	require.NoError(t, err)
	require.Len(t, outside, 1)
	require.Equal(t, "prod restarts", outside[0].Policy)
	require.Equal(t, "sre", outside[0].Group)
	require.False(t, outside[0].Enabled)
	require.NotZero(t, outside[0].PolicyID)
}
