package approvals_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// forcedDryRuns counts the simulator's calls of op that were dry runs with
// force=true, and fails on any call that changed something.
func forcedDryRuns(t *testing.T, s *sim.Server, op cloudapi.Operation) int {
	t.Helper()
	n := 0
	for _, c := range s.Calls() {
		require.False(t, c.Mutated, "a dry run changes nothing: %s %s", c.Method, c.Path)
		if c.Operation == op && strings.Contains(c.Path, "dryRun=true") && strings.Contains(c.Path, "force=true") {
			n++
		}
	}
	return n
}

// A version upgrade of a cluster with one master can only be a hard
// update: the API's refusal becomes a finding at spec.version, not an
// error of the whole spec; the requester's choice of a hard update makes
// the dry run ask again with force=true, whose answer counts.
func TestAVersionUpgradeOfOneMasterNeedsAHardUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	c := f.cluster(t, f.staging)
	upgraded := cloneSpec(t, c.Spec)
	upgraded.Version = "2024.07"
	p := approvals.Proposal{Kind: approvals.KindUpdate, ClusterUID: f.staging, Base: &c.Spec, Proposed: &upgraded}

	vs, err := approvals.DryRun(ctx, f.client, p)
	require.NoError(t, err)
	require.Len(t, vs, 1)
	found, needed := vs.HardUpdateNeeded()
	require.True(t, needed)
	require.Equal(t, "spec.version", found.Target, "placed at the field whose change restarts the servers, not at the whole spec")
	require.Contains(t, found.Message, "hard update")
	require.Contains(t, found.Message, "force=true", "the API's own words are kept")
	placed := vs.Place()
	require.Len(t, placed.Fields["version"], 1)
	require.NotContains(t, placed.Fields, "spec_json")
	require.Zero(t, forcedDryRuns(t, f.sim, cloudapi.OpUpdateCluster), "nobody chose a hard update yet")

	p.HardUpdate = true
	vs, err = approvals.DryRun(ctx, f.client, p)
	require.NoError(t, err)
	require.Empty(t, vs, "the forced dry run accepts it")
	require.Equal(t, 1, forcedDryRuns(t, f.sim, cloudapi.OpUpdateCluster))

	// Check (local rules and the API) says the same.
	p.HardUpdate = false
	vs, err = approvals.Check(ctx, f.client, p)
	require.NoError(t, err)
	_, needed = vs.HardUpdateNeeded()
	require.True(t, needed)

	// A change the API refuses for another reason is refused with force
	// too: the forced answer counts.
	broken := cloneSpec(t, upgraded)
	broken.Query.InstanceType = "not a type"
	vs, err = approvals.DryRun(ctx, f.client, approvals.Proposal{Kind: approvals.KindUpdate, ClusterUID: f.staging,
		Base: &c.Spec, Proposed: &broken, HardUpdate: true})
	require.NoError(t, err)
	require.NotEmpty(t, vs)
	_, needed = vs.HardUpdateNeeded()
	require.False(t, needed)
	require.Equal(t, "spec.query.instanceType", vs[0].Target)
}

// Without a version change, the finding goes to the instance type that
// changes (the API names only the server group).
func TestAHardUpdateOfAnInstanceTypeIsPlacedAtIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	c := f.cluster(t, f.staging)
	bigger := cloneSpec(t, c.Spec)
	bigger.Query.InstanceType = "m5.xlarge"
	vs, err := approvals.DryRun(ctx, f.client, approvals.Proposal{Kind: approvals.KindUpdate, ClusterUID: f.staging,
		Base: &c.Spec, Proposed: &bigger})
	require.NoError(t, err)
	found, needed := vs.HardUpdateNeeded()
	require.True(t, needed)
	require.Equal(t, "spec.query.instanceType", found.Target)
	require.Equal(t, []string{"query_instance_type"}, mapsKeys(vs.Place().Fields))

	// Where nothing better is known, the API's target stays.
	require.Equal(t, "spec", approvals.HardUpdateTarget(approvals.Proposal{Base: &c.Spec, Proposed: &c.Spec}, "spec"))
	require.Equal(t, "spec.master", approvals.HardUpdateTarget(approvals.Proposal{Base: &c.Spec, Proposed: &bigger}, "spec.master"),
		"the query's instance type is not the master's")
}

func mapsKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// The choice of a hard update is part of what approvers approve: it
// changes the diff hash, carries the hard_update risk hint, needs the
// hard-update policy's two approvals, and an edit that drops it voids the
// approvals given (and says so in the diff of diffs).
func TestAHardUpdateIsAReviewedChoice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	c := f.cluster(t, f.staging)
	upgraded := cloneSpec(t, c.Spec)
	upgraded.Version = "2024.07"

	plain, err := f.svc.Preview(ctx, approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.staging,
		Reason: "new release", Spec: &upgraded, SeenResourceVersion: &c.ResourceVersion})
	require.NoError(t, err)
	require.NotContains(t, plain.Revision.RiskCodes(), approvals.RiskHardUpdate)
	require.Equal(t, "default", plain.Policy.Name)

	r, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.staging,
		Reason: "new release", Spec: &upgraded, SeenResourceVersion: &c.ResourceVersion, HardUpdate: true})
	require.NoError(t, err)
	require.True(t, r.Revision.Payload.HardUpdate)
	require.NotEqual(t, plain.Revision.DiffHash, r.Revision.DiffHash, "the approvals bind to the choice")
	var hint *approvals.Risk
	for i, risk := range r.Revision.Risks {
		if risk.Code == approvals.RiskHardUpdate {
			hint = &r.Revision.Risks[i]
		}
	}
	require.NotNil(t, hint)
	require.Contains(t, hint.Message, "downtime", "the hint says the risk in words")
	require.Equal(t, []string{"spec.version"}, hint.Paths)
	var created map[string]any
	require.NoError(t, json.Unmarshal(f.events(t, r.ID)[0].Data, &created))
	require.Equal(t, true, created["hard_update"], "the audit log records the choice")

	// Read back, the choice and the hint are there; the approver's dry run
	// of the filed request passes with force.
	got, err := approvals.Get(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.True(t, got.Revision.Payload.HardUpdate)
	require.Contains(t, got.Revision.RiskCodes(), approvals.RiskHardUpdate)
	vs, err := approvals.DryRun(ctx, f.client, approvals.ProposalOf(got))
	require.NoError(t, err)
	require.Empty(t, vs)

	e, err := approvals.Evaluate(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Equal(t, "hard-update", e.Policy.Name)
	require.Equal(t, 2, e.Needed())
	out, err := f.approve(t, f.bob, r)
	require.NoError(t, err)
	require.False(t, out.Completed, "one approval is not enough for a hard update")

	// Alice drops the choice: bob's approval no longer counts, the policy
	// is the default one again, and the revision says what changed.
	edited, err := f.svc.Edit(ctx, f.alice, r.ID, approvals.Edit{Revision: 1, Reason: "new release",
		Spec: &upgraded, SeenResourceVersion: &c.ResourceVersion})
	require.NoError(t, err)
	require.False(t, edited.Revision.Payload.HardUpdate)
	require.Equal(t, approvals.HardUpdateDropped, edited.Revision.Changes.HardUpdate)
	require.False(t, edited.Revision.Changes.Empty())
	e, err = approvals.Evaluate(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Zero(t, e.Given())
	require.Equal(t, "default", e.Policy.Name)

	// Chosen again, it takes carol and erin, and what is approved carries it.
	again, err := f.svc.Edit(ctx, f.alice, r.ID, approvals.Edit{Revision: 2, Reason: "new release",
		Spec: &upgraded, SeenResourceVersion: &c.ResourceVersion, HardUpdate: true})
	require.NoError(t, err)
	require.Equal(t, approvals.HardUpdateChosen, again.Revision.Changes.HardUpdate)
	out, err = f.approve(t, f.carol, again)
	require.NoError(t, err)
	require.False(t, out.Completed)
	out, err = f.approve(t, f.erin, again)
	require.NoError(t, err)
	require.True(t, out.Completed)
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.approved, 1)
	require.True(t, f.approved[0].Revision.Payload.HardUpdate, "execution reads the choice from the approved revision")
}

// Only requests that change a running cluster's spec can be hard updates.
func TestAHardUpdateIsRefusedForOtherKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	spec := newSpec()
	_, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindCreate, Name: "fresh-dev",
		Reason: "try it", Spec: &spec, HardUpdate: true})
	require.ErrorIs(t, err, approvals.ErrInvalid)
	_, err = f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindStop, ClusterUID: f.staging,
		Reason: "night", HardUpdate: true})
	require.ErrorIs(t, err, approvals.ErrInvalid)
	require.True(t, approvals.KindRollback.CanHardUpdate())
	require.True(t, approvals.KindReplace.CanHardUpdate())
	require.False(t, approvals.KindRestartServer.CanHardUpdate())
}

// Rollback and replace are dry-run as the PUT execution sends: the live
// document with the proposed spec. A rollback to the release before is a
// version change of a one-master cluster: refused without force, accepted
// with it.
func TestReplacingRequestsAreDryRunAsAPut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	c := f.cluster(t, f.staging)
	first, err := f.syncer.Version(ctx, f.staging, 0)
	require.NoError(t, err)
	require.Equal(t, "2023.10", first.Spec.Version)

	rollback, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindRollback, ClusterUID: f.staging,
		Reason: "the new release breaks a dashboard", RollbackTo: ptr[int64](0)})
	require.NoError(t, err)
	f.sim.ResetCalls()
	vs, err := approvals.DryRun(ctx, f.client, approvals.ProposalOf(rollback))
	require.NoError(t, err)
	found, needed := vs.HardUpdateNeeded()
	require.True(t, needed)
	require.Equal(t, "spec.version", found.Target)
	var puts int
	for _, call := range f.sim.Calls() {
		require.False(t, call.Mutated)
		if call.Operation == cloudapi.OpReplaceCluster {
			puts++
			require.Contains(t, call.Path, "dryRun=true")
			require.Contains(t, call.Body, `"name":"analytics-staging"`, "the live metadata is sent")
			require.Contains(t, call.Body, `"version":"2023.10"`)
		}
	}
	require.Equal(t, 1, puts)

	// The same rollback as a hard update passes.
	hard, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindRollback, ClusterUID: f.staging,
		Reason: "the new release breaks a dashboard", RollbackTo: ptr[int64](0), HardUpdate: true})
	require.NoError(t, err)
	require.Contains(t, hard.Revision.RiskCodes(), approvals.RiskHardUpdate)
	vs, err = approvals.DryRun(ctx, f.client, approvals.ProposalOf(hard))
	require.NoError(t, err)
	require.Empty(t, vs)
	require.Equal(t, 1, forcedDryRuns(t, f.sim, cloudapi.OpReplaceCluster))

	// A replace that restarts nothing passes without force; one the API
	// refuses says where.
	more := cloneSpec(t, c.Spec)
	more.Data.Tier1.Replicas = ptr[int32](3)
	vs, err = approvals.DryRun(ctx, f.client, approvals.Proposal{Kind: approvals.KindReplace, ClusterUID: f.staging,
		Base: &c.Spec, Proposed: &more})
	require.NoError(t, err)
	require.Empty(t, vs)
	bad := cloneSpec(t, c.Spec)
	bad.DeepStorage.Path = "/not/s3"
	vs, err = approvals.DryRun(ctx, f.client, approvals.Proposal{Kind: approvals.KindReplace, ClusterUID: f.staging,
		Base: &c.Spec, Proposed: &bad})
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, "spec.deepStorage.path", vs[0].Target)
	require.False(t, vs[0].NeedsHardUpdate)
}
