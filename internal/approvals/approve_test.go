package approvals_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

func TestApprovalThatMeetsThePolicyApprovesTheRequest(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	r := f.update(t, f.alice, f.staging, func(s *cloudapi.ClusterSpec) { s.Query.Replicas = ptr[int32](2) })
	require.Equal(t, approvals.StatePending, r.State)
	require.Equal(t, f.alice.UserID, r.Requester.ID)

	out, err := f.svc.Approve(ctx, f.bob, r.ID, approvals.Approve{
		Revision: 1, LiveResourceVersion: f.live(t, f.staging), Comment: "looks right"})
	require.NoError(t, err)
	require.True(t, out.Completed)
	require.False(t, out.Repeated)
	require.Equal(t, approvals.StateApproved, out.Request.State)
	require.Equal(t, "default", out.Evaluation.Policy.Name)
	require.Equal(t, 1, out.Evaluation.Given())
	require.True(t, out.Evaluation.ApprovedBy(f.bob.UserID))
	require.Equal(t, approvals.StateApproved, state(t, f, r.ID))

	require.Len(t, f.approved, 1, "OnApproved ran once")
	require.Equal(t, r.ID, f.approved[0].ID)
	require.Equal(t, approvals.StateApproved, f.approved[0].State)

	entries := f.events(t, r.ID)
	require.Equal(t, []audit.Action{audit.RequestCreated, audit.RequestApproved}, actions(entries))
	var data map[string]any
	require.NoError(t, json.Unmarshal(entries[1].Data, &data))
	require.Equal(t, []any{"developers", "approvers"}, data["approver_groups"], "groups at the moment of approval")
	require.Equal(t, r.Revision.DiffHash.String(), data["diff_hash"])
	require.Equal(t, "default", data["policy"])
	require.Equal(t, "approved", data["state"])
	require.Equal(t, "looks right", data["comment"])
	require.Equal(t, float64(1), data["approvals"])
	require.Equal(t, audit.User(strconv.FormatInt(f.bob.UserID, 10), f.bob.Name), entries[1].Actor)
	require.Equal(t, f.bob.Origin, entries[1].Origin)

	d, err := approvals.Detail(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Len(t, d.Decisions, 1)
	a := d.Decisions[0]
	require.Equal(t, approvals.DecisionApprove, a.Decision)
	require.Equal(t, r.Revision.DiffHash, a.DiffHash)
	require.True(t, a.HasBase)
	require.Equal(t, r.Revision.BaseResourceVersion, a.BaseResourceVersion)
	require.Equal(t, f.bob.Groups, a.Groups)
	require.Equal(t, "looks right", a.Comment)

	// A click after the approval completed repeats nothing.
	again, err := f.approve(t, f.bob, r)
	require.NoError(t, err)
	require.True(t, again.Repeated)
	require.False(t, again.Completed)
	require.Len(t, f.approved, 1)
	require.Len(t, f.events(t, r.ID), 2)
}

func TestProductionNeedsTwoApprovalsAndDoubleClicksCountOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) { s.Query.Replicas = ptr[int32](3) })

	first, err := f.approve(t, f.bob, r)
	require.NoError(t, err)
	require.False(t, first.Completed)
	require.Equal(t, approvals.StatePending, first.Request.State)
	require.Equal(t, 2, first.Evaluation.Needed())
	require.Equal(t, 1, first.Evaluation.Missing())

	twice, err := f.approve(t, f.bob, r)
	require.NoError(t, err)
	require.True(t, twice.Repeated)
	require.Equal(t, 1, twice.Evaluation.Given(), "the same person counts once")

	second, err := f.approve(t, f.carol, r)
	require.NoError(t, err)
	require.True(t, second.Completed)
	require.Equal(t, approvals.StateApproved, second.Request.State)
	require.Len(t, f.approved, 1)
}

func TestFourEyes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	// Alice is an approver too here: being one does not let her approve
	// her own request.
	alice := f.alice
	alice.Groups = []string{"developers", "approvers"}
	r := f.update(t, alice, f.staging, func(s *cloudapi.ClusterSpec) { s.AWSKeyPair = "ops" })

	_, err := f.approve(t, alice, r)
	require.ErrorIs(t, err, approvals.ErrOwnRequest)
	require.ErrorIs(t, err, approvals.ErrForbidden)
	_, err = f.svc.Reject(ctx, alice, r.ID, approvals.Reject{Revision: 1, Comment: "no"})
	require.ErrorIs(t, err, approvals.ErrOwnRequest)

	// Dave, an admin and approver, edits the request: from then on he is
	// one of its authors and may not approve it either.
	c := f.cluster(t, f.staging)
	spec := cloneSpec(t, c.Spec)
	spec.AWSKeyPair = "ops-2"
	edited, err := f.svc.Edit(ctx, f.dave, r.ID, approvals.Edit{Revision: 1, Reason: "fix the key pair name",
		Spec: &spec, SeenResourceVersion: &c.ResourceVersion})
	require.NoError(t, err)
	require.Equal(t, 2, edited.Revision.Number)
	require.Equal(t, f.dave.UserID, edited.Revision.Author.ID)
	require.Equal(t, f.alice.UserID, edited.Requester.ID, "the requester stays")

	_, err = f.approve(t, f.dave, edited)
	require.ErrorIs(t, err, approvals.ErrOwnRequest)
	require.ErrorContains(t, err, "you edited it")
	_, err = f.svc.Reject(ctx, f.dave, r.ID, approvals.Reject{Revision: 2, Comment: "no"})
	require.ErrorIs(t, err, approvals.ErrOwnRequest)

	// Not an approver at all.
	_, err = f.approve(t, f.mallory, edited)
	require.ErrorIs(t, err, approvals.ErrNotEligible)
	// Groups are judged as the actor presents them now: bob without the
	// approvers group (removed at the provider) is refused...
	formerBob := f.bob
	formerBob.Groups = []string{"developers"}
	_, err = f.approve(t, formerBob, edited)
	require.ErrorIs(t, err, approvals.ErrNotEligible)
	require.Equal(t, approvals.StatePending, state(t, f, r.ID))

	// ...and carol, uninvolved and an approver, may.
	out, err := f.approve(t, f.carol, edited)
	require.NoError(t, err)
	require.True(t, out.Completed)
	require.Equal(t, []audit.Action{audit.RequestCreated, audit.RequestUpdated, audit.RequestApproved}, actions(f.events(t, r.ID)))
}

func TestAnEditVoidsEarlierApprovals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	r := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) { s.Query.Replicas = ptr[int32](3) })
	_, err := f.approve(t, f.bob, r)
	require.NoError(t, err)

	c := f.cluster(t, f.prod)
	spec := cloneSpec(t, c.Spec)
	spec.Query.Replicas = ptr[int32](4)
	edited, err := f.svc.Edit(ctx, f.alice, r.ID, approvals.Edit{Revision: 1, Reason: "four, to be safe",
		Spec: &spec, SeenResourceVersion: &c.ResourceVersion})
	require.NoError(t, err)
	require.Equal(t, 2, edited.Revision.Number)
	require.NotEqual(t, r.Revision.DiffHash, edited.Revision.DiffHash)
	require.Equal(t, approvals.StatePending, edited.State)

	e, err := approvals.Evaluate(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Zero(t, e.Given(), "bob approved revision 1, not 2")

	// Bob's page still shows revision 1: approving it is refused.
	_, err = f.svc.Approve(ctx, f.bob, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: f.live(t, f.prod)})
	require.ErrorIs(t, err, approvals.ErrConflict)
	// The same edit twice (a double submit) is refused too.
	_, err = f.svc.Edit(ctx, f.alice, r.ID, approvals.Edit{Revision: 1, Reason: "again", Spec: &spec, SeenResourceVersion: &c.ResourceVersion})
	require.ErrorIs(t, err, approvals.ErrConflict)

	out, err := f.approve(t, f.bob, edited)
	require.NoError(t, err)
	require.False(t, out.Completed)
	require.Equal(t, 1, out.Evaluation.Given())

	d, err := approvals.Detail(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Len(t, d.Revisions, 2)
	require.Equal(t, "more capacity for the holiday season", d.Revisions[0].Reason)
	require.Equal(t, "four, to be safe", d.Revisions[1].Reason)
	require.Len(t, d.Decisions, 2, "both of bob's approvals are kept; only one counts")
	require.Equal(t, []approvals.Person{{ID: f.alice.UserID, Name: f.alice.Name}}, d.Authors())

	updated := f.events(t, r.ID)[2]
	require.Equal(t, audit.RequestUpdated, updated.Action)
	var data map[string]any
	require.NoError(t, json.Unmarshal(updated.Data, &data))
	require.Equal(t, r.Revision.DiffHash.String(), data["previous_diff_hash"])
	require.Equal(t, edited.Revision.DiffHash.String(), data["diff_hash"])
}

func TestAMovedResourceVersionStopsApprovalUntilARebase(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	r := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) { s.Query.Replicas = ptr[int32](3) })
	_, err := f.approve(t, f.bob, r)
	require.NoError(t, err)

	// Someone changes the cluster in the Imply Manager. The inventory has
	// not synced yet; the approver's page re-reads the live cluster.
	f.changeOutside(t, f.prod, `{"spec":{"master":{"instanceType":"m5.xlarge"}}}`)
	live := f.live(t, f.prod)
	require.Equal(t, r.Revision.BaseResourceVersion+1, live)

	_, err = f.svc.Approve(ctx, f.carol, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: live})
	require.ErrorIs(t, err, approvals.ErrStale)
	require.Equal(t, approvals.StateStale, state(t, f, r.ID), "committed despite the error")
	require.Equal(t, []audit.Action{audit.RequestCreated, audit.RequestApproved, audit.RequestStale}, actions(f.events(t, r.ID)))

	_, err = f.svc.Approve(ctx, f.carol, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: live})
	require.ErrorIs(t, err, approvals.ErrStale)
	_, err = f.svc.Reject(ctx, f.carol, r.ID, approvals.Reject{Revision: 1, Comment: "no"})
	require.ErrorIs(t, err, approvals.ErrStale)
	req, err := approvals.WhatItTakes(ctx, f.pool, r.ID, f.carol)
	require.NoError(t, err)
	require.ErrorIs(t, req.Blocker, approvals.ErrStale)

	// The requester rebases on the live cluster (after a refresh): same
	// change, new base, new revision, no approvals.
	_, err = f.syncer.Refresh(ctx, f.prod)
	require.NoError(t, err)
	rebased, err := f.svc.Rebase(ctx, f.alice, r.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StatePending, rebased.State)
	require.Equal(t, 2, rebased.Revision.Number)
	require.Equal(t, live, rebased.Revision.BaseResourceVersion)
	require.Equal(t, "m5.xlarge", rebased.Revision.ProposedSpec.Master.InstanceType, "the outside change is kept")
	require.Equal(t, int32(3), *rebased.Revision.ProposedSpec.Query.Replicas, "the requested change is kept")
	require.Equal(t, []string{"spec.query.replicas"}, rebased.Revision.Diff.Paths())
	require.Equal(t, r.Revision.Reason, rebased.Revision.Reason)

	e, err := approvals.Evaluate(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Zero(t, e.Given(), "bob's approval was bound to the old base")

	_, err = f.approve(t, f.bob, rebased)
	require.NoError(t, err)
	out, err := f.approve(t, f.carol, rebased)
	require.NoError(t, err)
	require.True(t, out.Completed)
	require.Equal(t, []audit.Action{audit.RequestCreated, audit.RequestApproved, audit.RequestStale,
		audit.RequestRebased, audit.RequestApproved, audit.RequestApproved}, actions(f.events(t, r.ID)))
}

func TestASyncThatSeesANewVersionMakesOpenRequestsStale(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	pending := f.update(t, f.alice, f.staging, func(s *cloudapi.ClusterSpec) { s.AWSKeyPair = "ops" })
	approved := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
	_, err := f.approve(t, f.bob, approved)
	require.NoError(t, err)
	cancelled := f.file(t, f.alice, approvals.KindDelete, f.staging)
	_, err = f.svc.Cancel(ctx, f.alice, cancelled.ID, "")
	require.NoError(t, err)
	elsewhere := f.file(t, f.alice, approvals.KindStop, f.prod)

	f.changeOutside(t, f.staging, `{"spec":{"awsTags":[{"name":"env","value":"staging"},{"name":"owner","value":"ops"}]}}`)
	_, err = f.syncer.Sync(ctx)
	require.NoError(t, err)

	require.Equal(t, approvals.StateStale, state(t, f, pending.ID))
	require.Equal(t, approvals.StateStale, state(t, f, approved.ID), "approved but not yet submitted: stale too")
	require.Equal(t, approvals.StateCancelled, state(t, f, cancelled.ID))
	require.Equal(t, approvals.StatePending, state(t, f, elsewhere.ID))
	entries := f.events(t, pending.ID)
	last := entries[len(entries)-1]
	require.Equal(t, audit.RequestStale, last.Action)
	require.Equal(t, audit.ActorSystem, last.Actor.Type)

	// A sync that sees only the update's progress changes nothing more.
	rebased, err := f.svc.Rebase(ctx, f.alice, pending.ID)
	require.NoError(t, err)
	_, err = f.syncer.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, approvals.StatePending, state(t, f, rebased.ID))
}

func TestRejectNeedsACommentAndEndsTheRequest(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	r := f.file(t, f.alice, approvals.KindStop, f.staging)

	_, err := f.svc.Reject(ctx, f.bob, r.ID, approvals.Reject{Revision: 1, Comment: "  "})
	require.ErrorIs(t, err, approvals.ErrInvalid)
	_, err = f.svc.Reject(ctx, f.mallory, r.ID, approvals.Reject{Revision: 1, Comment: "no"})
	require.ErrorIs(t, err, approvals.ErrNotEligible)

	rejected, err := f.svc.Reject(ctx, f.bob, r.ID, approvals.Reject{Revision: 1, Comment: "not during the sale"})
	require.NoError(t, err)
	require.Equal(t, approvals.StateRejected, rejected.State)

	_, err = f.approve(t, f.carol, r)
	require.ErrorIs(t, err, approvals.ErrInvalidTransition)
	_, err = f.approve(t, f.bob, r)
	require.ErrorIs(t, err, approvals.ErrConflict, "bob already decided")
	_, err = f.svc.Cancel(ctx, f.alice, r.ID, "")
	require.ErrorIs(t, err, approvals.ErrInvalidTransition)

	e, err := approvals.Evaluate(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.NotNil(t, e.Rejection)
	require.Equal(t, "not during the sale", e.Rejection.Comment)
	require.Equal(t, []audit.Action{audit.RequestCreated, audit.RequestRejected}, actions(f.events(t, r.ID)))
}

// TestConcurrentApprovals: two eligible approvers of a two-approval
// request click ten times each, all at once. Exactly one approval
// completes the policy, each person's approval is stored once, and the
// submission hook runs once.
func TestConcurrentApprovals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	r := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) { s.Query.Replicas = ptr[int32](3) })
	live := f.live(t, f.prod)

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		completed int
		repeated  int
		failures  []error
	)
	start := make(chan struct{})
	for i := range 20 {
		approver := f.bob
		if i%2 == 1 {
			approver = f.carol
		}
		wg.Go(func() {
			<-start
			out, err := f.svc.Approve(ctx, approver, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: live})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failures = append(failures, err)
			case out.Completed:
				completed++
			case out.Repeated:
				repeated++
			}
		})
	}
	close(start)
	wg.Wait()

	require.Empty(t, failures)
	require.Equal(t, 1, completed)
	require.Equal(t, 18, repeated)
	require.Len(t, f.approved, 1)
	var rows int
	require.NoError(t, f.pool.QueryRow(ctx, "SELECT count(*) FROM approvals WHERE request_id = $1", r.ID).Scan(&rows))
	require.Equal(t, 2, rows)
	require.Equal(t, []audit.Action{audit.RequestCreated, audit.RequestApproved, audit.RequestApproved}, actions(f.events(t, r.ID)))
	require.Equal(t, approvals.StateApproved, state(t, f, r.ID))

	result, err := audit.Verify(ctx, f.pool)
	require.NoError(t, err)
	require.True(t, result.OK, "the audit chain did not fork")
}

func TestCancel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	mine := f.file(t, f.alice, approvals.KindStop, f.staging)
	_, err := f.svc.Cancel(ctx, f.bob, mine.ID, "")
	require.ErrorIs(t, err, approvals.ErrForbidden, "an approver is not the requester")
	cancelled, err := f.svc.Cancel(ctx, f.alice, mine.ID, "changed my mind")
	require.NoError(t, err)
	require.Equal(t, approvals.StateCancelled, cancelled.State)
	_, err = f.svc.Cancel(ctx, f.alice, mine.ID, "")
	require.ErrorIs(t, err, approvals.ErrInvalidTransition)

	// An admin cancels anyone's request, even an approved one.
	other := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
	_, err = f.approve(t, f.bob, other)
	require.NoError(t, err)
	byAdmin, err := f.svc.Cancel(ctx, f.dave, other.ID, "maintenance freeze")
	require.NoError(t, err)
	require.Equal(t, approvals.StateCancelled, byAdmin.State)
	entries := f.events(t, other.ID)
	var data map[string]any
	require.NoError(t, json.Unmarshal(entries[len(entries)-1].Data, &data))
	require.Equal(t, true, data["by_admin"])
	require.Equal(t, "approved", data["previous_state"])
	require.Equal(t, "maintenance freeze", data["comment"])

	// The request page reads who cancelled, when and why.
	c, err := approvals.CancellationGet(ctx, f.pool, other.ID)
	require.NoError(t, err)
	require.Equal(t, f.dave.UserID, c.By.ID)
	require.True(t, c.ByAdmin)
	require.Equal(t, "maintenance freeze", c.Reason)
	require.Equal(t, approvals.StateApproved, c.PreviousState)
	require.False(t, c.At.IsZero())
	d, err := approvals.Detail(ctx, f.pool, other.ID)
	require.NoError(t, err)
	require.NotNil(t, d.Cancellation)
	require.Equal(t, "maintenance freeze", d.Cancellation.Reason)
	own, err := approvals.CancellationGet(ctx, f.pool, mine.ID)
	require.NoError(t, err)
	require.False(t, own.ByAdmin)
	require.Equal(t, "changed my mind", own.Reason)
	_, err = approvals.CancellationGet(ctx, f.pool, f.file(t, f.alice, approvals.KindStop, f.staging).ID)
	require.ErrorIs(t, err, approvals.ErrNotFound, "an open request has no cancellation")

	// An admin who withdraws someone else's request says why.
	third := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
	_, err = f.svc.Cancel(ctx, f.dave, third.ID, "   ")
	require.ErrorIs(t, err, approvals.ErrCancelNeedsReason)
	require.ErrorIs(t, err, approvals.ErrInvalid)

	_, err = f.svc.Cancel(ctx, f.alice, 999999, "")
	require.ErrorIs(t, err, approvals.ErrNotFound)
}

func TestOnlyTheRequesterOrAnAdminEdits(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	r := f.file(t, f.alice, approvals.KindStop, f.staging)
	_, err := f.svc.Edit(ctx, f.bob, r.ID, approvals.Edit{Revision: 1, Reason: "mine now"})
	require.ErrorIs(t, err, approvals.ErrForbidden)
	_, err = f.svc.Rebase(ctx, f.bob, r.ID)
	require.ErrorIs(t, err, approvals.ErrForbidden)

	edited, err := f.svc.Edit(ctx, f.alice, r.ID, approvals.Edit{Revision: 1, Reason: "stop it tonight"})
	require.NoError(t, err)
	require.Equal(t, "stop it tonight", edited.Revision.Reason)
	require.Equal(t, r.Revision.DiffHash, edited.Revision.DiffHash, "the same change")

	_, err = f.approve(t, f.bob, edited)
	require.NoError(t, err)
	_, err = f.svc.Edit(ctx, f.alice, r.ID, approvals.Edit{Revision: 2, Reason: "too late"})
	require.ErrorIs(t, err, approvals.ErrInvalidTransition, "approved requests do not change")
}

func TestExpire(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	old := f.file(t, f.alice, approvals.KindStop, f.staging)
	approved := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
	_, err := f.approve(t, f.bob, approved)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, "UPDATE change_requests SET updated_at = now() - interval '30 days'")
	require.NoError(t, err)
	fresh := f.file(t, f.alice, approvals.KindStop, f.prod)

	n, err := f.svc.Expire(ctx, fresh.CreatedAt.AddDate(0, 0, -7))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, approvals.StateExpired, state(t, f, old.ID))
	require.Equal(t, approvals.StateApproved, state(t, f, approved.ID))
	require.Equal(t, approvals.StatePending, state(t, f, fresh.ID))
	entries := f.events(t, old.ID)
	require.Equal(t, audit.RequestExpired, entries[len(entries)-1].Action)
}
