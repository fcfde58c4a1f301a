package approvals_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestSeededPolicies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	list, err := approvals.PolicyList(ctx, pool)
	require.NoError(t, err)
	var names []string
	for _, p := range list {
		names = append(names, p.Name)
		require.True(t, p.Enabled)
		require.Equal(t, []string{"approvers"}, p.ApproverGroups)
		require.NotEmpty(t, p.Description)
	}
	require.Equal(t, []string{"default", "production", "delete", "scale-down", "hard-update"}, names)

	for _, tc := range []struct {
		name    string
		subject approvals.PolicySubject
		policy  string
		needed  int
	}{
		{"any request: default", approvals.PolicySubject{Kind: approvals.KindUpdate, Environments: []string{"staging"}}, "default", 1},
		{"create in default", approvals.PolicySubject{Kind: approvals.KindCreate, Environments: []string{"default"}}, "default", 1},
		{"production", approvals.PolicySubject{Kind: approvals.KindStart, Environments: []string{"production"}}, "production", 2},
		{"moving into production", approvals.PolicySubject{Kind: approvals.KindUpdate, Environments: []string{"staging", "production"}}, "production", 2},
		{"delete anywhere", approvals.PolicySubject{Kind: approvals.KindDelete, Environments: []string{"development"}}, "delete", 2},
		{"scale-down anywhere", approvals.PolicySubject{Kind: approvals.KindUpdate, Environments: []string{"staging"}, Risks: []approvals.RiskCode{approvals.RiskVersion, approvals.RiskScaleDown}}, "scale-down", 2},
		{"hard update anywhere", approvals.PolicySubject{Kind: approvals.KindRollback, Environments: []string{"development"}, Risks: []approvals.RiskCode{approvals.RiskHardUpdate, approvals.RiskVersion}}, "hard-update", 2},
		{"other risks stay default", approvals.PolicySubject{Kind: approvals.KindUpdate, Environments: []string{"staging"}, Risks: []approvals.RiskCode{approvals.RiskVersion}}, "default", 1},
		{"equal strictness and specificity: the oldest", approvals.PolicySubject{Kind: approvals.KindDelete, Environments: []string{"production"}}, "production", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := approvals.PolicyFor(ctx, pool, tc.subject)
			require.NoError(t, err)
			require.Equal(t, tc.policy, p.Name)
			require.Equal(t, tc.needed, p.ApprovalsRequired)
		})
	}
}

// TestEachSeededRuleAppliesToRealRequests files a request for each rule and
// evaluates it.
func TestEachSeededRuleAppliesToRealRequests(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		file   func() approvals.Request
		policy string
		needed int
	}{
		{"default: a tag on staging", func() approvals.Request {
			return f.update(t, f.alice, f.staging, func(s *cloudapi.ClusterSpec) {
				s.AWSTags = append(s.AWSTags, cloudapi.StringValue("cost-center", "42"))
			})
		}, "default", 1},
		{"production: a tag on prod", func() approvals.Request {
			return f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) {
				s.AWSTags = append(s.AWSTags, cloudapi.StringValue("cost-center", "42"))
			})
		}, "production", 2},
		{"delete: the dev cluster", func() approvals.Request {
			return f.file(t, f.alice, approvals.KindDelete, f.dev)
		}, "delete", 2},
		{"scale-down: fewer data servers on staging", func() approvals.Request {
			return f.update(t, f.alice, f.staging, func(s *cloudapi.ClusterSpec) { s.Data.Tier1.Replicas = ptr[int32](1) })
		}, "scale-down", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.file()
			e, err := approvals.Evaluate(ctx, f.pool, r.ID)
			require.NoError(t, err)
			require.Equal(t, tc.policy, e.Policy.Name)
			require.Equal(t, tc.needed, e.Needed())
			require.Equal(t, []string{"approvers"}, e.Policy.ApproverGroups)
			require.Zero(t, e.Given())
			require.Equal(t, tc.needed, e.Missing())
			require.False(t, e.Complete())
		})
	}
}

func TestTheStrictestMatchingPolicyWins(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `
		INSERT INTO policies (name, environments, kinds, risks, approvals_required, approver_groups) VALUES
			('prod restarts', '{production}', '{restart_server}', '{}', 3, '{sre}'),
			('prod updates', '{production}', '{update}', '{}', 2, '{data-platform}'),
			('disabled', '{}', '{}', '{}', 9, '{nobody}')`)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, "UPDATE policies SET enabled = false WHERE name = 'disabled'")
	require.NoError(t, err)

	restart := f.file(t, f.alice, approvals.KindRestartServer, f.prod)
	e, err := approvals.Evaluate(ctx, f.pool, restart.ID)
	require.NoError(t, err)
	require.Equal(t, "prod restarts", e.Policy.Name, "most approvals")
	require.Equal(t, []string{"sre"}, e.Policy.ApproverGroups)

	_, err = f.approve(t, f.bob, restart)
	require.ErrorIs(t, err, approvals.ErrNotEligible, "only the winning policy's groups may approve")
	require.ErrorIs(t, err, approvals.ErrForbidden)

	update := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) { s.AWSKeyPair = "ops" })
	e, err = approvals.Evaluate(ctx, f.pool, update.ID)
	require.NoError(t, err)
	require.Equal(t, "prod updates", e.Policy.Name, "as strict as production, and more specific")

	_, err = f.pool.Exec(ctx, "UPDATE policies SET enabled = false")
	require.NoError(t, err)
	_, err = approvals.Evaluate(ctx, f.pool, update.ID)
	require.ErrorIs(t, err, approvals.ErrNoPolicy)
	_, err = f.approve(t, f.bob, update)
	require.ErrorIs(t, err, approvals.ErrNoPolicy, "no policy: nobody approves")
}
