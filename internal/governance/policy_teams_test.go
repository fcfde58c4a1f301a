package governance_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/seed"
)

// policyID returns the id of the policy named name.
func (f *fixture) policyID(t testing.TB, name string) int64 {
	t.Helper()
	list, err := approvals.PolicyList(context.Background(), f.pool)
	require.NoError(t, err)
	for _, p := range list {
		if p.Name == name {
			return p.ID
		}
	}
	t.Fatalf("no policy %q", name)
	return 0
}

// savePolicy changes policy name with change, as dave.
func (f *fixture) savePolicy(t testing.TB, name string, change func(*approvals.PolicySettings)) []approvals.PolicyEffect {
	t.Helper()
	ctx := context.Background()
	pa, err := approvals.PolicyAdminGet(ctx, f.pool, f.policyID(t, name))
	require.NoError(t, err)
	st := pa.Settings()
	change(&st)
	effects, err := f.svc.PolicySave(ctx, f.dave, pa.ID, st, nil)
	require.NoError(t, err)
	return effects
}

func (f *fixture) file(t testing.TB, a approvals.Actor, kind approvals.Kind, c inventory.Cluster) approvals.Request {
	t.Helper()
	r, err := f.svc.Create(context.Background(), a, approvals.NewRequest{Kind: kind, ClusterUID: c.UID, Reason: "test"})
	require.NoError(t, err)
	return r
}

// newSpec is a valid spec for a new cluster.
func newSpec() cloudapi.ClusterSpec {
	one := int32(1)
	return cloudapi.ClusterSpec{
		Version: "2024.01", AWSInstanceRole: "imply-dev-instance",
		Master:      &cloudapi.MasterConfig{Replicas: &one, InstanceType: "t3.medium"},
		Query:       &cloudapi.QueryConfig{Replicas: &one, InstanceType: "t3.medium"},
		Data:        &cloudapi.DataConfig{Tier1: &cloudapi.DataTier{Replicas: &one, InstanceType: "t3.medium"}},
		DeepStorage: &cloudapi.DeepStorage{Path: "s3://acme-druid-dev/new"},
	}
}

func ids(list []approvals.Request) []int64 {
	out := []int64{}
	for _, r := range list {
		out = append(out, r.ID)
	}
	return out
}

// TestPolicyMatchesTeam: a policy with teams matches only requests on
// clusters those teams own; the preview honours it; an unknown team is
// refused naming the field.
func TestPolicyMatchesTeam(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.teams(t)
	staging := f.file(t, f.alice, approvals.KindStop, f.staging) // analytics
	dev := f.file(t, f.erin, approvals.KindStart, f.dev)         // clickstream
	policyOf := func(r approvals.Request) string {
		e, err := approvals.Evaluate(ctx, f.pool, r.ID)
		require.NoError(t, err)
		return e.Policy.Name
	}
	require.Equal(t, "default", policyOf(staging))
	require.Equal(t, "default", policyOf(dev))

	// A draft of "delete" for analytics' stops, starts and creates,
	// previewed then saved.
	id := f.policyID(t, "delete")
	pa, err := approvals.PolicyAdminGet(ctx, f.pool, id)
	require.NoError(t, err)
	draft := pa.Settings()
	draft.Kinds, draft.Teams = []approvals.Kind{approvals.KindStop, approvals.KindStart, approvals.KindCreate}, []string{"analytics"}
	effects, err := f.svc.PolicyPreview(ctx, id, draft)
	require.NoError(t, err)
	require.Len(t, effects, 1, "only the analytics request moves")
	require.Equal(t, staging.ID, effects[0].RequestID)
	require.Equal(t, "delete", effects[0].AfterPolicy)

	f.savePolicy(t, "delete", func(st *approvals.PolicySettings) { *st = draft })
	require.Equal(t, "delete", policyOf(staging), "two approvals for analytics")
	require.Equal(t, "default", policyOf(dev), "clickstream's start is not matched")
	stored, err := approvals.PolicyAdminGet(ctx, f.pool, id)
	require.NoError(t, err)
	require.Equal(t, []string{"analytics"}, stored.Teams)

	// The same subject with and without the team (the form's preview).
	for team, want := range map[string]string{"analytics": "delete", "clickstream": "default", "": "default"} {
		p, err := approvals.PolicyFor(ctx, f.pool, approvals.PolicySubject{Team: team, Kind: approvals.KindStop, Environments: []string{"staging"}})
		require.NoError(t, err)
		require.Equal(t, want, p.Name, "team %q", team)
	}

	// A create's team is what the ownership rules say of the new name.
	for _, tc := range []struct {
		who    approvals.Actor
		name   string
		policy string
	}{{f.alice, "analytics-fresh", "delete"}, {f.erin, "clickstream-fresh", "default"}} {
		spec := newSpec()
		in := approvals.NewRequest{Kind: approvals.KindCreate, Name: tc.name, Reason: "new", Spec: &spec}
		preview, err := f.svc.Preview(ctx, in)
		require.NoError(t, err)
		require.Equal(t, tc.policy, preview.Policy.Name, "%s: the form's preview", tc.name)
		r, err := f.svc.Create(ctx, tc.who, in)
		require.NoError(t, err)
		require.Equal(t, tc.policy, policyOf(r), "%s: filed", tc.name)
	}

	// A cluster moved to another team changes its requests' policy.
	require.NoError(t, f.admin.OwnerSet(ctx, f.dave, f.dev.UID, "analytics"))
	require.Equal(t, "delete", policyOf(dev))

	// Unknown teams are refused, naming the field.
	draft.Teams = []string{"analytics", "nobody"}
	_, err = f.svc.PolicyPreview(ctx, id, draft)
	require.ErrorIs(t, err, approvals.ErrInvalid)
	require.ErrorContains(t, err, `Teams: there is no team named "nobody"`)
	_, err = f.svc.PolicySave(ctx, f.dave, id, draft, nil)
	require.ErrorIs(t, err, approvals.ErrInvalid)
}

// TestQueueFollowsTeamRules: for people of two teams, the approvals queue
// (ListAwaiting), the requests list filtered on "awaiting me" and the
// menu's count list exactly the requests the approve button
// (WhatItTakes) and the permission function (MayApprove) let them
// approve, before teams exist, with teams, and once a team-lead policy is
// half approved.
func TestQueueFollowsTeamRules(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ann := f.user(t, "ann", false, "analytics-approvers", "approvers")
	ali := f.user(t, "ali", false, "analytics-leads", "approvers")
	carl := f.user(t, "carl", false, "clickstream-approvers", "approvers")
	lee := f.user(t, "lee", false, "clickstream-leads", "approvers")
	people := []approvals.Actor{f.dave, f.alice, f.bob, f.erin, ann, ali, carl, lee}

	staging := f.file(t, f.alice, approvals.KindStop, f.staging) // default: 1 approval
	prod := f.file(t, f.bob, approvals.KindStop, f.prod)         // production: 2 approvals
	dev := f.file(t, f.erin, approvals.KindStart, f.dev)         // default
	spec := newSpec()
	fresh, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindCreate, Name: "analytics-fresh", Reason: "new", Spec: &spec})
	require.NoError(t, err) // a create: its approval follows the policy alone, teams or not
	requests := []approvals.Request{staging, prod, dev, fresh}

	// queues checks that the three lists agree with the decisions for
	// everyone, and returns each person's queue by name.
	queues := func(t *testing.T) map[string][]int64 {
		out := map[string][]int64{}
		for _, a := range people {
			want := []int64{}
			for _, r := range requests {
				takes, err := approvals.WhatItTakes(ctx, f.pool, r.ID, a)
				require.NoError(t, err)
				current, err := approvals.Get(ctx, f.pool, r.ID)
				require.NoError(t, err)
				if takes.Blocker == nil && f.svc.MayApprove(ctx, a, current, takes.Evaluation) == nil {
					want = append(want, r.ID)
				}
			}
			queue, err := approvals.ListAwaiting(ctx, f.pool, a, approvals.Page{})
			require.NoError(t, err)
			require.ElementsMatch(t, want, ids(queue), "%s: the queue and the decisions", a.Name)
			listed, err := approvals.List(ctx, f.pool, approvals.Filter{AwaitingFor: &a}, approvals.Cursor{}, 0)
			require.NoError(t, err)
			var listedIDs []int64
			for _, l := range listed.Requests {
				listedIDs = append(listedIDs, l.ID)
			}
			require.ElementsMatch(t, want, listedIDs, "%s: the requests list and the decisions", a.Name)
			n, err := approvals.Count(ctx, f.pool, approvals.Filter{AwaitingFor: &a}, 99)
			require.NoError(t, err)
			require.Equal(t, len(want), n, "%s: the menu's count", a.Name)
			out[a.Name] = ids(queue)
		}
		return out
	}

	// No team: every approver but the requester.
	q := queues(t)
	require.ElementsMatch(t, []int64{staging.ID, prod.ID, dev.ID, fresh.ID}, q["dave"])
	require.ElementsMatch(t, []int64{staging.ID, dev.ID, fresh.ID}, q["bob"])

	// Teams: each team's approvers and leads, for its own clusters.
	f.teams(t)
	f.savePolicy(t, "production", func(st *approvals.PolicySettings) { st.TeamLeadRequired = true })
	q = queues(t)
	require.ElementsMatch(t, []int64{fresh.ID}, q["dave"], "an admin outside the teams' groups")
	require.ElementsMatch(t, []int64{staging.ID, prod.ID, fresh.ID}, q["ann"])
	require.ElementsMatch(t, []int64{staging.ID, prod.ID, fresh.ID}, q["ali"])
	require.ElementsMatch(t, []int64{staging.ID, fresh.ID}, q["bob"], "a lead, not for his own request")
	require.ElementsMatch(t, []int64{dev.ID, fresh.ID}, q["carl"])
	require.ElementsMatch(t, []int64{dev.ID, fresh.ID}, q["lee"])
	require.ElementsMatch(t, []int64{fresh.ID}, q["erin"], "a developer of clickstream is no approver of it")

	// Ann approves the production stop: the last approval must come from
	// a lead, so it leaves ann's queue (decided) and stays in ali's only.
	_, err = f.svc.Approve(ctx, ann, prod.ID, approvals.Approve{Revision: 1, LiveResourceVersion: f.prod.ResourceVersion})
	require.NoError(t, err)
	q = queues(t)
	require.ElementsMatch(t, []int64{staging.ID, fresh.ID}, q["ann"])
	require.ElementsMatch(t, []int64{staging.ID, prod.ID, fresh.ID}, q["ali"])

	// Ann's approval expires (the policy's age, 7 days): it no longer
	// counts, so two approvals are missing again and ann may renew hers.
	_, err = f.pool.Exec(ctx, `UPDATE approvals SET created_at = now() - interval '8 days' WHERE request_id = $1`, prod.ID)
	require.NoError(t, err)
	q = queues(t)
	require.ElementsMatch(t, []int64{staging.ID, prod.ID, fresh.ID}, q["ann"])
	require.ElementsMatch(t, []int64{staging.ID, prod.ID, fresh.ID}, q["ali"])

	// A team-lead rule on the default policy: one approval, so only leads.
	f.savePolicy(t, "default", func(st *approvals.PolicySettings) { st.TeamLeadRequired = true })
	q = queues(t)
	require.ElementsMatch(t, []int64{prod.ID, fresh.ID}, q["ann"], "not staging any more; prod still misses two")
	require.ElementsMatch(t, []int64{dev.ID, fresh.ID}, q["lee"])
	require.ElementsMatch(t, []int64{fresh.ID}, q["carl"])
}

// BenchmarkAwaitingQueue measures the approvals queue (its first page of
// 100 and the menu's count, as /approvals and the menu read them) over
// 2,000 open requests on the clusters of two teams, for an approver of one
// of them: without teams, then with them (the team rule of the queue,
// teamApprovalSQL, and the team in policy_for), in the same run.
func BenchmarkAwaitingQueue(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	requesters, err := seed.Users(ctx, f.pool, 5)
	require.NoError(b, err)
	_, err = seed.Requests(ctx, f.pool, seed.RequestsOptions{N: 2000, Open: 2000, Requesters: requesters})
	require.NoError(b, err)
	ann := f.user(b, "ann", false, "analytics-approvers", "approvers")
	run := func(b *testing.B) {
		var listed, counted int
		for b.Loop() {
			list, err := approvals.ListAwaiting(ctx, f.pool, ann, approvals.Page{Limit: 100})
			require.NoError(b, err)
			n, err := approvals.Count(ctx, f.pool, approvals.Filter{AwaitingFor: &ann}, 99)
			require.NoError(b, err)
			listed, counted = len(list), n
		}
		b.ReportMetric(float64(listed), "listed")
		b.ReportMetric(float64(counted), "counted")
	}
	b.Run("teams=none", run)
	f.teams(b)
	b.Run("teams=2", run)
	b.Run("teams=2,lead-required", func(b *testing.B) {
		f.savePolicy(b, "default", func(st *approvals.PolicySettings) { st.TeamLeadRequired = true })
		run(b)
	})
}

// TestRevisionsArePermitted: editing and rebasing a request files a new
// revision, so the permission function must let the editor request it
// now; someone who lost the right cannot edit or rebase it into being.
func TestRevisionsArePermitted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.teams(t)
	r := f.file(t, f.alice, approvals.KindStop, f.staging)
	edit := func(a approvals.Actor, revision int) (approvals.Request, error) {
		return f.svc.Edit(ctx, a, r.ID, approvals.Edit{Revision: revision, Reason: "a better reason"})
	}
	_, err := edit(f.alice, 1)
	require.NoError(t, err, "alice may still request stops on analytics' clusters")
	current, err := approvals.Get(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.NoError(t, f.svc.MayRevise(ctx, f.alice, current))

	// The cluster moves to clickstream: alice may no longer request it.
	require.NoError(t, f.admin.OwnerSet(ctx, f.dave, f.staging.UID, "clickstream"))
	_, err = edit(f.alice, 2)
	require.ErrorIs(t, err, approvals.ErrNotPermitted)
	require.Contains(t, approvals.RefusalReason(err), "clickstream-devs or clickstream-leads")
	_, err = f.svc.Rebase(ctx, f.alice, r.ID)
	require.ErrorIs(t, err, approvals.ErrNotPermitted, "a rebase is checked as an edit")
	require.ErrorIs(t, f.svc.MayRevise(ctx, f.alice, current), approvals.ErrNotPermitted, "no edit or rebase button")
	after, err := approvals.Get(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Equal(t, 2, after.Revision.Number, "no revision was added")

	// An admin outside the team's groups is refused too, with the reason.
	_, err = edit(f.dave, 2)
	require.ErrorIs(t, err, approvals.ErrNotPermitted)
	// Back with analytics, alice's edit goes through again.
	require.NoError(t, f.admin.OwnerSet(ctx, f.dave, f.staging.UID, ""))
	_, err = edit(f.alice, 2)
	require.NoError(t, err)
}
