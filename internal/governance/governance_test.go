package governance_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

type fixture struct {
	pool                   *pgxpool.Pool
	admin                  *governance.Admin
	svc                    *approvals.Service
	dave, alice, bob, erin approvals.Actor
	prod, staging, dev     inventory.Cluster
}

// setup: the simulator's demo clusters synced into a fresh database, the
// approvals service with the governance Checker, and people: dave (admin),
// alice (analytics-devs), bob (analytics-leads, approvers), erin
// (clickstream-devs, approvers).
func setup(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	_, client := simtest.Start(t, 2*time.Millisecond)
	envRules, err := inventory.ParseNameRules("-dev$=development")
	require.NoError(t, err)
	rules := inventory.Rules{Environments: envRules}
	f := &fixture{pool: testdb.New(t)}
	_, err = inventory.NewSyncer(f.pool, client, inventory.Config{Rules: rules}).Sync(ctx)
	require.NoError(t, err)
	f.admin = governance.NewAdmin(f.pool)
	f.svc = approvals.New(f.pool, approvals.Config{Classifier: rules, Permissions: governance.Checker{}})
	f.dave = f.user(t, "dave", true, "admins", "approvers")
	f.alice = f.user(t, "alice", false, "analytics-devs")
	f.bob = f.user(t, "bob", false, "analytics-leads", "approvers")
	f.erin = f.user(t, "erin", false, "clickstream-devs", "approvers")
	for name, c := range map[string]*inventory.Cluster{"analytics-prod": &f.prod, "analytics-staging": &f.staging, "clickstream-dev": &f.dev} {
		list, err := inventory.ClusterByName(ctx, f.pool, name)
		require.NoError(t, err)
		require.Len(t, list, 1)
		*c = list[0]
	}
	return f
}

func (f *fixture) user(t testing.TB, name string, admin bool, groups ...string) approvals.Actor {
	t.Helper()
	var id int64
	err := f.pool.QueryRow(context.Background(), `
		INSERT INTO users (issuer, subject, username, name, groups, last_login_at)
		VALUES ('https://idp.test', $1, $1, $1, $2, now()) RETURNING id`, "sub-"+name, groups).Scan(&id)
	require.NoError(t, err)
	approver := false
	for _, g := range groups {
		approver = approver || g == "approvers"
	}
	return approvals.Actor{UserID: id, Name: name, Groups: groups, Approver: approver, Admin: admin}
}

func (f *fixture) teams(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	_, err := f.admin.TeamSave(ctx, f.dave, governance.Team{Name: "analytics", RequesterGroups: []string{"analytics-devs"},
		ApproverGroups: []string{"analytics-approvers"}, LeadGroups: []string{"analytics-leads"}})
	require.NoError(t, err)
	_, err = f.admin.TeamSave(ctx, f.dave, governance.Team{Name: "clickstream", RequesterGroups: []string{"clickstream-devs"},
		ApproverGroups: []string{"clickstream-approvers"}, LeadGroups: []string{"clickstream-leads"}})
	require.NoError(t, err)
	_, err = f.admin.RuleAdd(ctx, f.dave, governance.Rule{Source: governance.SourcePrefix, Key: "analytics-", Team: "analytics"})
	require.NoError(t, err)
	_, err = f.admin.RuleAdd(ctx, f.dave, governance.Rule{Source: governance.SourcePrefix, Key: "clickstream-", Team: "clickstream"})
	require.NoError(t, err)
}

func TestOwnership(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	owner := func(c inventory.Cluster) string {
		team, err := governance.OwnerOf(ctx, f.pool, c)
		require.NoError(t, err)
		return team
	}
	require.Equal(t, "", owner(f.staging), "no rule: the inventory's team (no tag)")
	f.teams(t)
	require.Equal(t, "analytics", owner(f.staging))
	require.Equal(t, "clickstream", owner(f.dev))

	// An override beats the rules; clearing it restores them.
	require.NoError(t, f.admin.OwnerSet(ctx, f.dave, f.staging.UID, "clickstream"))
	require.Equal(t, "clickstream", owner(f.staging))
	require.NoError(t, f.admin.OwnerSet(ctx, f.dave, f.staging.UID, ""))
	require.Equal(t, "analytics", owner(f.staging))
	require.ErrorIs(t, f.admin.OwnerSet(ctx, f.dave, f.staging.UID, "nobody"), governance.ErrNotFound)

	// A tag rule placed first reads the cluster's awsTags.
	_, err := f.admin.RuleAdd(ctx, f.dave, governance.Rule{Source: governance.SourceTag, Key: "owner"})
	require.NoError(t, err)
	tagged := f.staging
	tagged.Spec.AWSTags = append(tagged.Spec.AWSTags, cloudapi.StringValue("owner", "search"))
	require.Equal(t, "analytics", owner(tagged), "the prefix rule comes first")
	rules, err := governance.RuleList(ctx, f.pool)
	require.NoError(t, err)
	require.Len(t, rules, 3)
	require.NoError(t, f.admin.RuleDelete(ctx, f.dave, rules[0].ID))
	require.Equal(t, "search", owner(tagged), "now the tag rule places it")
	require.ErrorIs(t, f.admin.RuleDelete(ctx, f.dave, rules[0].ID), governance.ErrNotFound)
}

// TestAdminChangesAudited: every administrative change is in the audit log
// with the state before and after.
func TestAdminChangesAudited(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.teams(t)
	_, err := f.admin.TeamSave(ctx, f.dave, governance.Team{Name: "analytics", RequesterGroups: []string{"analytics-devs", "interns"},
		ApproverGroups: []string{"analytics-approvers"}, LeadGroups: []string{"analytics-leads"}})
	require.NoError(t, err)
	require.NoError(t, f.admin.OwnerSet(ctx, f.dave, f.dev.UID, "analytics"))
	require.NoError(t, f.admin.TeamDelete(ctx, f.dave, "clickstream"))
	_, err = f.admin.TeamSave(ctx, f.dave, governance.Team{Name: "Bad Name"})
	require.ErrorIs(t, err, governance.ErrInvalid)

	page, err := audit.List(ctx, f.pool, audit.Filter{SubjectType: audit.SubjectTeam}, audit.PageRequest{Limit: 50})
	require.NoError(t, err)
	var got []audit.Action
	var updated map[string]any
	for _, e := range page.Entries {
		got = append(got, e.Action)
		if e.Action == audit.TeamUpdated {
			require.NoError(t, json.Unmarshal(e.Data, &updated))
		}
	}
	require.ElementsMatch(t, []audit.Action{audit.TeamCreated, audit.TeamCreated, audit.OwnershipChanged, audit.OwnershipChanged,
		audit.TeamUpdated, audit.OwnershipChanged, audit.TeamDeleted}, got)
	require.Equal(t, []any{"analytics-devs"}, updated["before"].(map[string]any)["requester_groups"])
	require.Equal(t, []any{"analytics-devs", "interns"}, updated["after"].(map[string]any)["requester_groups"])
}

// TestServiceConsultsPermissions: filing and approving go through the
// permission function, which names what would grant a refusal; without
// teams nothing changes.
func TestServiceConsultsPermissions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	stop := func(a approvals.Actor, c inventory.Cluster, kind approvals.Kind) (approvals.Request, error) {
		return f.svc.Create(ctx, a, approvals.NewRequest{Kind: kind, ClusterUID: c.UID, Reason: "test"})
	}
	// No teams yet: alice may stop another team's cluster, as before.
	_, err := stop(f.alice, f.dev, approvals.KindStart)
	require.NoError(t, err)

	f.teams(t)
	_, err = stop(f.alice, f.dev, approvals.KindStart)
	require.ErrorIs(t, err, approvals.ErrNotPermitted)
	require.Contains(t, approvals.RefusalReason(err), "clickstream-devs or clickstream-leads")
	require.NoError(t, f.svc.MayRequest(ctx, f.alice, f.staging, approvals.KindStop))
	err = f.svc.MayRequest(ctx, f.alice, f.staging, approvals.KindDelete)
	require.ErrorIs(t, err, approvals.ErrNotPermitted)
	require.Contains(t, approvals.RefusalReason(err), "analytics-leads")
	_, err = stop(f.alice, f.staging, approvals.KindDelete)
	require.ErrorIs(t, err, approvals.ErrNotPermitted)

	// Approving: erin holds the approver role and the policy's group,
	// but is no approver of the analytics team.
	r, err := stop(f.alice, f.staging, approvals.KindStop)
	require.NoError(t, err)
	_, err = f.svc.Approve(ctx, f.erin, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: f.staging.ResourceVersion})
	require.True(t, errors.Is(err, approvals.ErrNotPermitted), "%v", err)
	require.Contains(t, approvals.RefusalReason(err), "analytics-approvers or analytics-leads")
	e, err := approvals.Evaluate(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Error(t, f.svc.MayApprove(ctx, f.erin, r, e))
	require.NoError(t, f.svc.MayApprove(ctx, f.bob, r, e))
	out, err := f.svc.Approve(ctx, f.bob, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: f.staging.ResourceVersion})
	require.NoError(t, err)
	require.Equal(t, 1, out.Evaluation.Given(), "bob's approval counts")
}
