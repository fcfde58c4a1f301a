package approvals_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// forceOutside changes uid through the API directly, with a hard update
// where a rolling one is impossible, and waits until it is applied.
func forceOutside(t *testing.T, f *fixture, uid, patch string) {
	t.Helper()
	ctx := context.Background()
	_, err := f.client.UpdateCluster(ctx, uid, json.RawMessage(patch), cloudapi.Force())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		c, err := f.client.GetCluster(ctx, uid)
		require.NoError(t, err)
		return !c.Status.State.Busy()
	}, 5*time.Second, 2*time.Millisecond)
}

func moreTier1(s *cloudapi.ClusterSpec) { s.Data.Tier1.Replicas = ptr(*s.Data.Tier1.Replicas + 1) }

// driftEvents counts the cluster.drift_detected events about uid.
func driftEvents(t *testing.T, f *fixture, uid string) int {
	t.Helper()
	page, err := audit.List(context.Background(), f.pool, audit.Filter{SubjectType: audit.SubjectCluster, SubjectID: uid,
		Actions: []audit.Action{audit.ClusterDriftDetected}}, audit.PageRequest{Limit: 100})
	require.NoError(t, err)
	return len(page.Entries)
}

// A change made through the API directly is one drift entry (with its
// diff and audit event) and makes the pending requests on the cluster
// stale; syncing again adds nothing.
func TestAChangeOutsideIsOneDriftAndMakesPendingRequestsStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	pending := f.update(t, f.alice, f.staging, moreTier1)
	other := f.update(t, f.alice, f.prod, moreTier1)
	before := f.cluster(t, f.staging).ResourceVersion

	forceOutside(t, f, f.staging, `{"spec":{"master":{"instanceType":"m5.large"}}}`)
	for range 2 {
		_, err := f.syncer.Sync(ctx)
		require.NoError(t, err)
	}

	drifts, err := approvals.DriftList(ctx, f.pool, f.staging)
	require.NoError(t, err)
	require.Len(t, drifts, 1)
	d := drifts[0]
	require.Equal(t, before, d.FromResourceVersion)
	require.Equal(t, before+1, d.ToResourceVersion)
	require.Equal(t, []string{"spec.master.instanceType"}, d.Diff.Paths())
	require.NotZero(t, d.AuditSeq)
	require.Equal(t, 1, driftEvents(t, f, f.staging))

	versions, err := inventory.VersionList(ctx, f.pool, f.staging)
	require.NoError(t, err)
	require.Equal(t, before+1, versions[0].ResourceVersion)
	require.True(t, versions[0].Attributed)
	require.True(t, versions[0].Outside)
	require.Zero(t, versions[0].ProducedBy)

	require.Equal(t, approvals.StateStale, state(t, f, pending.ID), "the pending request must be rebased")
	require.Equal(t, approvals.StatePending, state(t, f, other.ID), "requests on other clusters are left alone")
	none, err := approvals.DriftList(ctx, f.pool, f.prod)
	require.NoError(t, err)
	require.Empty(t, none)
}

// submitting puts r, approved, in the state the worker gives it right
// before its call: a submission row and state submitting.
func submitting(t *testing.T, f *fixture, r approvals.Request) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO submissions (request_id, revision, cluster_key, cluster_uid)
			VALUES ($1, $2, $3, $3)`, r.ID, r.Revision.Number, r.ClusterUID); err != nil {
			return err
		}
		_, err := approvals.Transition(ctx, tx, r.ID, approvals.StateSubmitting)
		return err
	})
	require.NoError(t, err)
}

// accepted records, as the worker does, that r's call was accepted with
// resource version target, and settles the versions.
func accepted(t *testing.T, f *fixture, r approvals.Request, target int64) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE submissions SET target_resource_version = $3, accepted_at = now()
			WHERE request_id = $1 AND revision = $2`, r.ID, r.Revision.Number, target); err != nil {
			return err
		}
		if err := approvals.SettleVersions(ctx, tx, r.ClusterUID); err != nil {
			return err
		}
		_, err := approvals.Transition(ctx, tx, r.ID, approvals.StateApplying)
		return err
	})
	require.NoError(t, err)
}

// The race between a submission and a sync, in both orders: a sync that
// sees the request's version while its call's answer is not recorded yet
// leaves the version unattributed (never drift), and recording the answer
// attributes it; a sync after the answer attributes it at once. A change
// outside made while a submission is in flight is drift once the
// submission's outcome is known.
func TestASubmissionsOwnVersionIsNeverDrift(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, syncFirst := range []bool{true, false} {
		name := "answer recorded first"
		if syncFirst {
			name = "sync sees the version first"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			r := f.update(t, f.alice, f.staging, moreTier1)
			out, err := f.approve(t, f.bob, r)
			require.NoError(t, err)
			require.True(t, out.Completed)
			submitting(t, f, out.Request)

			// The worker's call.
			patch, err := out.Request.Revision.Patch()
			require.NoError(t, err)
			reply, err := f.client.UpdateCluster(ctx, f.staging, patch)
			require.NoError(t, err)
			target := reply.Status.ResourceVersion

			if syncFirst {
				_, err = f.syncer.Sync(ctx)
				require.NoError(t, err)
				v, err := inventory.VersionGet(ctx, f.pool, f.staging, target)
				require.NoError(t, err)
				require.False(t, v.Attributed, "in flight: not decided yet")
			}
			accepted(t, f, out.Request, target)
			_, err = f.syncer.Sync(ctx)
			require.NoError(t, err)

			v, err := inventory.VersionGet(ctx, f.pool, f.staging, target)
			require.NoError(t, err)
			require.True(t, v.Attributed)
			require.False(t, v.Outside)
			require.Equal(t, r.ID, v.ProducedBy)
			drifts, err := approvals.DriftList(ctx, f.pool, f.staging)
			require.NoError(t, err)
			require.Empty(t, drifts)
			require.Zero(t, driftEvents(t, f, f.staging))
		})
	}
	t.Run("a change outside beside an in-flight submission", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		r := f.update(t, f.alice, f.staging, moreTier1)
		out, err := f.approve(t, f.bob, r)
		require.NoError(t, err)
		submitting(t, f, out.Request)
		forceOutside(t, f, f.staging, `{"spec":{"master":{"instanceType":"m5.large"}}}`)
		_, err = f.syncer.Sync(ctx)
		require.NoError(t, err)
		drifts, err := approvals.DriftList(ctx, f.pool, f.staging)
		require.NoError(t, err)
		require.Empty(t, drifts, "while the submission is in flight the version may be its own")

		// The worker then finds the cluster moved and fails the request.
		err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			if _, err := approvals.Transition(ctx, tx, r.ID, approvals.StateFailed); err != nil {
				return err
			}
			return approvals.SettleVersions(ctx, tx, f.staging)
		})
		require.NoError(t, err)
		drifts, err = approvals.DriftList(ctx, f.pool, f.staging)
		require.NoError(t, err)
		require.Len(t, drifts, 1)
		require.Equal(t, []string{"spec.master.instanceType"}, drifts[0].Diff.Paths())
	})
}

// Versions that came and went between two syncs are fetched once each from
// the history API, and never again.
func TestMissedVersionsAreFetchedOnceFromTheHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	start := f.cluster(t, f.staging).ResourceVersion
	forceOutside(t, f, f.staging, `{"spec":{"master":{"instanceType":"m5.large"}}}`)
	forceOutside(t, f, f.staging, `{"spec":{"query":{"instanceType":"m5.large"}}}`)
	forceOutside(t, f, f.staging, `{"spec":{"query":{"replicas":2}}}`)
	f.sim.ResetCalls()
	for range 3 {
		_, err := f.syncer.Sync(ctx)
		require.NoError(t, err)
		_, err = f.syncer.Refresh(ctx, f.staging)
		require.NoError(t, err)
	}
	fetched := map[string]int{}
	for _, c := range f.sim.Calls() {
		if c.Operation == cloudapi.OpGetClusterVersion {
			fetched[c.Path]++
		}
	}
	require.Len(t, fetched, 2, "the two versions between the syncs: %v", fetched)
	for path, n := range fetched {
		require.Equal(t, 1, n, path)
	}
	versions, err := inventory.VersionList(ctx, f.pool, f.staging)
	require.NoError(t, err)
	require.Len(t, versions, 4)
	require.Equal(t, inventory.SourceLive, versions[0].Source)
	require.Equal(t, inventory.SourceHistory, versions[1].Source)
	require.False(t, versions[1].FetchedAt.IsZero())
	require.Equal(t, start+1, versions[2].ResourceVersion)
	require.Equal(t, "m5.large", versions[2].Spec.Master.InstanceType)

	// One drift entry for the run of three outside versions.
	drifts, err := approvals.DriftList(ctx, f.pool, f.staging)
	require.NoError(t, err)
	require.Len(t, drifts, 1)
	require.Equal(t, start, drifts[0].FromResourceVersion)
	require.Equal(t, start+3, drifts[0].ToResourceVersion)
	require.ElementsMatch(t, []string{"spec.master.instanceType", "spec.query.instanceType", "spec.query.replicas"}, drifts[0].Diff.Paths())

	// An older version (before Clusterdesk followed the cluster) is
	// fetched once on demand, e.g. to roll back to it.
	f.sim.ResetCalls()
	for range 2 {
		v, err := f.syncer.Version(ctx, f.staging, 0)
		require.NoError(t, err)
		require.Equal(t, "2023.10", v.Spec.Version)
		require.True(t, v.Outside)
	}
	n := 0
	for _, c := range f.sim.Calls() {
		if c.Operation == cloudapi.OpGetClusterVersion {
			n++
		}
	}
	require.Equal(t, 1, n)
	_, err = f.syncer.Version(ctx, f.staging, 99)
	require.ErrorIs(t, err, inventory.ErrVersionNotFound)
}

// A rollback proposes the old version's spec, diffed against the live
// cluster, except the fields it does not restore (desired state, deep
// storage), which it keeps live and lists.
func TestARollbackRestoresAVersionButNotItsDesiredStateOrDeepStorage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	from := f.cluster(t, f.staging)
	forceOutside(t, f, f.staging, `{"spec":{"data":{"tier1":{"replicas":4}},"deepStorage":{"path":"s3://acme-druid-staging/v2"}}}`)
	forceOutside(t, f, f.staging, `{"spec":{"desiredState":"STOPPED"}}`)
	_, err := f.syncer.Sync(ctx)
	require.NoError(t, err)
	live := f.cluster(t, f.staging)

	r, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindRollback, ClusterUID: f.staging,
		Reason: "the scale-up broke ingestion", RollbackTo: &from.ResourceVersion})
	require.NoError(t, err)
	v := r.Revision
	require.Equal(t, live.ResourceVersion, v.BaseResourceVersion)
	require.Equal(t, []string{"spec.data.tier1.replicas"}, v.Diff.Paths(), "only the restorable field differs")
	require.Equal(t, int32(2), *v.ProposedSpec.Data.Tier1.Replicas)
	require.Equal(t, cloudapi.DesiredStopped, v.ProposedSpec.DesiredState, "a rollback never starts a cluster")
	require.Equal(t, "s3://acme-druid-staging/v2", v.ProposedSpec.DeepStorage.Path)
	require.Equal(t, cloudapi.AccessMode("PROXIED"), v.ProposedSpec.Pivot.AccessMode)
	require.Equal(t, from.ResourceVersion, *v.Payload.RollbackTo)
	kept := map[string]approvals.KeptField{}
	for _, k := range v.Payload.NotRestored {
		kept[k.Path] = k
	}
	require.Contains(t, kept, "spec.desiredState")
	require.True(t, kept["spec.desiredState"].Differs())
	require.JSONEq(t, `"STARTED"`, string(kept["spec.desiredState"].Version))
	require.JSONEq(t, `"STOPPED"`, string(kept["spec.desiredState"].Live))
	require.True(t, kept["spec.deepStorage"].Differs())
	require.Contains(t, v.RiskCodes(), approvals.RiskScaleDown)

	// Read back, the kept fields are there for the request page.
	got, err := approvals.Get(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Len(t, got.Revision.Payload.NotRestored, len(v.Payload.NotRestored))

	// Rolling back to the version the cluster is at changes nothing.
	_, err = f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindRollback, ClusterUID: f.staging,
		Reason: "again", RollbackTo: &live.ResourceVersion})
	require.ErrorIs(t, err, approvals.ErrNoChange)
	// A version nobody has.
	_, err = f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindRollback, ClusterUID: f.staging,
		Reason: "again", RollbackTo: ptr[int64](42)})
	require.ErrorIs(t, err, approvals.ErrNotFound)
}

// A replace request takes a whole spec; without an access mode it keeps the
// live one (and says so), and it is reviewed like an update.
func TestAReplaceRequestTakesTheWholeSpec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	c := f.cluster(t, f.staging)
	spec := cloneSpec(t, c.Spec)
	spec.Pivot = nil
	spec.Query.Replicas = ptr[int32](3)
	r, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindReplace, ClusterUID: f.staging,
		Reason: "written by hand", Spec: &spec, SeenResourceVersion: &c.ResourceVersion})
	require.NoError(t, err)
	require.Equal(t, []string{"spec.query.replicas"}, r.Revision.Diff.Paths(), "the pivot settings stay: only the access mode was missing")
	require.Len(t, r.Revision.Payload.NotRestored, 1)
	require.Equal(t, "spec.pivot.accessMode", r.Revision.Payload.NotRestored[0].Path)
	require.Equal(t, cloudapi.AccessMode("PROXIED"), r.Revision.ProposedSpec.Pivot.AccessMode)
	out, err := f.approve(t, f.bob, r)
	require.NoError(t, err)
	require.True(t, out.Completed)

	_, err = f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindReplace, ClusterUID: f.staging,
		Reason: "no spec", SeenResourceVersion: &c.ResourceVersion})
	require.ErrorIs(t, err, approvals.ErrInvalid)
}

// A rebase voids the approvals given so far and records the diff of
// diffs: the cluster's changes between the two bases, and how the
// proposal's diff changed; the approver sees what is new since they
// decided.
func TestARebaseVoidsApprovalsAndRecordsTheDiffOfDiffs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	r := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) {
		s.Data.Tier1.Replicas = ptr[int32](5)
		s.Query.Replicas = ptr[int32](3)
	})
	out, err := f.approve(t, f.carol, r)
	require.NoError(t, err)
	require.False(t, out.Completed, "production needs two")

	forceOutside(t, f, f.prod, `{"spec":{"data":{"tier1":{"replicas":6}},"master":{"instanceType":"m5.xlarge"},"query":{"replicas":3}}}`)
	_, err = f.syncer.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, approvals.StateStale, state(t, f, r.ID))

	rebased, err := f.svc.Rebase(ctx, f.alice, r.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StatePending, rebased.State)
	e, err := approvals.Evaluate(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Empty(t, e.Approvals, "carol's approval was of the old revision")

	ch := rebased.Revision.Changes
	require.NotNil(t, ch)
	require.True(t, ch.BaseMoved())
	require.Equal(t, r.Revision.BaseResourceVersion, ch.FromBase)
	require.Equal(t, rebased.Revision.BaseResourceVersion, ch.ToBase)
	require.ElementsMatch(t, []string{"spec.data.tier1.replicas", "spec.master.instanceType", "spec.query.replicas"}, ch.Cluster.Paths())
	deltas := map[string]approvals.DeltaKind{}
	for _, d := range ch.Proposal {
		deltas[d.Path] = d.Kind
	}
	require.Equal(t, map[string]approvals.DeltaKind{
		"spec.data.tier1.replicas": approvals.DeltaChanged, // 4→5 became 6→5
		"spec.query.replicas":      approvals.DeltaDropped, // the cluster has it now
	}, deltas)

	// Stored, and what carol sees as new since she approved.
	d, err := approvals.Detail(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Nil(t, d.Revisions[0].Changes)
	require.Equal(t, ch, d.Revisions[1].Changes)
	since, ok, err := approvals.ChangesSince(d, f.carol.UserID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, ch.Proposal, since.Proposal)
	_, ok, err = approvals.ChangesSince(d, f.erin.UserID)
	require.NoError(t, err)
	require.False(t, ok, "erin never looked")
}

// Two open requests changing the same field collide: both list each
// other, and the later one cannot be approved while the earlier is open.
// Requests changing different fields do not collide.
func TestRequestsChangingTheSameFieldCollide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	first := f.update(t, f.alice, f.staging, moreTier1)
	second := f.update(t, f.carol, f.staging, func(s *cloudapi.ClusterSpec) { s.Data.Tier1.Replicas = ptr[int32](7) })
	apart := f.update(t, f.alice, f.staging, func(s *cloudapi.ClusterSpec) { s.Master.InstanceType = "m5.large" })

	c1, err := approvals.Collisions(ctx, f.pool, first)
	require.NoError(t, err)
	require.Len(t, c1, 1)
	require.Equal(t, second.ID, c1[0].Request.ID)
	require.Equal(t, []string{"spec.data.tier1.replicas"}, c1[0].Paths)
	c2, err := approvals.Collisions(ctx, f.pool, second)
	require.NoError(t, err)
	require.Len(t, c2, 1)
	require.Equal(t, first.ID, c2[0].Request.ID)
	c3, err := approvals.Collisions(ctx, f.pool, apart)
	require.NoError(t, err)
	require.Empty(t, c3, "different fields do not collide")

	takes, err := approvals.WhatItTakes(ctx, f.pool, second.ID, f.bob)
	require.NoError(t, err)
	require.ErrorIs(t, takes.Blocker, approvals.ErrCollision, "the page says why before bob tries")
	takes, err = approvals.WhatItTakes(ctx, f.pool, first.ID, f.bob)
	require.NoError(t, err)
	require.NoError(t, takes.Blocker)
	_, err = f.approve(t, f.bob, second)
	require.ErrorIs(t, err, approvals.ErrCollision)
	require.ErrorIs(t, err, approvals.ErrConflict)
	require.Contains(t, err.Error(), "#"+itoa(first.ID))
	require.Equal(t, approvals.StatePending, state(t, f, second.ID))
	e, err := approvals.Evaluate(ctx, f.pool, second.ID)
	require.NoError(t, err)
	require.Empty(t, e.Approvals, "nothing was recorded")

	out, err := f.approve(t, f.bob, first)
	require.NoError(t, err, "the earlier one goes first")
	require.True(t, out.Completed)
	out, err = f.approve(t, f.bob, apart)
	require.NoError(t, err, "no collision")
	require.True(t, out.Completed)

	// Once the earlier one is finished, the later one may go.
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		_, err := approvals.Transition(ctx, tx, first.ID, approvals.StateCancelled)
		return err
	})
	require.NoError(t, err)
	out, err = f.approve(t, f.bob, second)
	require.NoError(t, err)
	require.True(t, out.Completed)
	require.False(t, errors.Is(err, approvals.ErrCollision))

	// A restart changes no field: it meets only a delete, which meets all.
	restart := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
	c4, err := approvals.Collisions(ctx, f.pool, restart)
	require.NoError(t, err)
	require.Empty(t, c4, "a restart and open updates do not collide")
	deletion := f.file(t, f.erin, approvals.KindDelete, f.staging)
	c4, err = approvals.Collisions(ctx, f.pool, restart)
	require.NoError(t, err)
	require.Len(t, c4, 1)
	require.Equal(t, deletion.ID, c4[0].Request.ID)
	require.True(t, c4[0].WholeCluster)
	c5, err := approvals.Collisions(ctx, f.pool, deletion)
	require.NoError(t, err)
	ids := make([]int64, len(c5))
	for i, o := range c5 {
		ids[i] = o.Request.ID
	}
	require.Equal(t, []int64{second.ID, apart.ID, restart.ID}, ids, "every open request, oldest first")
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// A cluster with no Pivot access mode at all is rolled back with PROXIED,
// since every PUT needs one; the request says so.
func TestARollbackWithoutAnyAccessModeSendsProxied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	from := f.cluster(t, f.dev)
	require.Nil(t, from.Spec.Pivot)
	forceOutside(t, f, f.dev, `{"spec":{"data":{"tier1":{"replicas":2}}}}`)
	_, err := f.syncer.Sync(ctx)
	require.NoError(t, err)
	r, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindRollback, ClusterUID: f.dev,
		Reason: "one data server is enough", RollbackTo: &from.ResourceVersion})
	require.NoError(t, err)
	require.Equal(t, cloudapi.AccessProxied, r.Revision.ProposedSpec.Pivot.AccessMode)
	require.ElementsMatch(t, []string{"spec.data.tier1.replicas", "spec.pivot.accessMode"}, r.Revision.Diff.Paths())
	var paths []string
	for _, k := range r.Revision.Payload.NotRestored {
		paths = append(paths, k.Path)
	}
	require.Contains(t, paths, "spec.pivot.accessMode")
}
