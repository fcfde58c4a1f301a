package approvals_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// ageApproval makes a's approval of request id look given age ago (time
// passes in SQL, not in a sleep).
func (f *fixture) ageApproval(t *testing.T, id int64, a approvals.Actor, age time.Duration) {
	t.Helper()
	tag, err := f.pool.Exec(context.Background(), `
		UPDATE approvals SET created_at = now() - $3::interval, renewed_at = NULL
		WHERE request_id = $1 AND approver_id = $2`, id, a.UserID, age)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

// TestAnExpiredApprovalNoLongerCountsAndIsRenewed: an approval older than
// its policy's age (seven days by default) no longer counts and is listed
// as expired; its approver may approve again, which renews the same row
// (audited as renewed) and completes the request as an approval does.
func TestAnExpiredApprovalNoLongerCountsAndIsRenewed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	r := f.file(t, f.alice, approvals.KindRestartServer, f.prod) // production: two approvals
	_, err := f.approve(t, f.carol, r)
	require.NoError(t, err)
	e, err := approvals.Evaluate(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.DefaultApprovalMaxAge, e.Policy.ApprovalMaxAge)
	require.Equal(t, 1, e.Given())
	require.WithinDuration(t, time.Now().Add(7*24*time.Hour), e.ExpiresAt, time.Minute)

	f.ageApproval(t, r.ID, f.carol, 7*24*time.Hour+time.Minute)
	e, err = approvals.Evaluate(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Zero(t, e.Given())
	require.True(t, e.ExpiresAt.IsZero())
	require.Len(t, e.Expired, 1)
	require.Equal(t, f.carol.UserID, e.Expired[0].Approver.ID)

	// Carol's queue lists it again: her approval may be renewed.
	queue, err := approvals.ListAwaiting(ctx, f.pool, f.carol, approvals.Page{})
	require.NoError(t, err)
	require.Len(t, queue, 1)
	require.Equal(t, r.ID, queue[0].ID)

	// Erin's approval alone does not complete it: Carol's expired.
	out, err := f.approve(t, f.erin, r)
	require.NoError(t, err)
	require.False(t, out.Completed)
	require.Equal(t, approvals.StatePending, state(t, f, r.ID))

	// Carol may approve again (the page offers it), and that completes it.
	takes, err := approvals.WhatItTakes(ctx, f.pool, r.ID, f.carol)
	require.NoError(t, err)
	require.NoError(t, takes.Blocker)
	out, err = f.svc.Approve(ctx, f.carol, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: f.live(t, f.prod), Comment: "still needed"})
	require.NoError(t, err)
	require.True(t, out.Completed)
	queue, err = approvals.ListAwaiting(ctx, f.pool, f.carol, approvals.Page{})
	require.NoError(t, err)
	require.Empty(t, queue, "approved: nothing awaits carol")
	require.Equal(t, approvals.StateApproved, out.Request.State)
	require.Len(t, f.approved, 1, "queued as by any approval")
	var rows int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM approvals WHERE request_id = $1 AND approver_id = $2`, r.ID, f.carol.UserID).Scan(&rows))
	require.Equal(t, 1, rows, "renewed in place, no second row")

	entries := f.events(t, r.ID)
	last := entries[len(entries)-1]
	require.Equal(t, audit.RequestApproved, last.Action)
	var data map[string]any
	require.NoError(t, json.Unmarshal(last.Data, &data))
	require.Equal(t, true, data["renewed"])
	require.Equal(t, "still needed", data["comment"])
	require.Equal(t, "approved", data["state"])

	// A second click renews nothing more.
	out, err = f.svc.Approve(ctx, f.carol, r.ID, approvals.Approve{Revision: 1, LiveResourceVersion: f.live(t, f.prod)})
	require.NoError(t, err)
	require.True(t, out.Repeated)
}

// TestRenewingKeepsTheRules: the requester cannot renew what they could
// not approve, a rejection is no approval to renew, and an approval that
// still counts is not renewed.
func TestRenewingKeepsTheRules(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	r := f.file(t, f.alice, approvals.KindRestartServer, f.prod)
	_, err := f.approve(t, f.carol, r)
	require.NoError(t, err)
	f.ageApproval(t, r.ID, f.carol, 8*24*time.Hour)

	_, err = f.approve(t, f.alice, r)
	require.ErrorIs(t, err, approvals.ErrOwnRequest)
	_, err = f.approve(t, f.mallory, r)
	require.ErrorIs(t, err, approvals.ErrNoApproverRole)

	// Erin's fresh approval still counts: approving again is a double click.
	_, err = f.approve(t, f.erin, r)
	require.NoError(t, err)
	out, err := f.approve(t, f.erin, r)
	require.NoError(t, err)
	require.True(t, out.Repeated)
	takes, err := approvals.WhatItTakes(ctx, f.pool, r.ID, f.erin)
	require.NoError(t, err)
	require.ErrorIs(t, takes.Blocker, approvals.ErrConflict)

	// A rejection stays a rejection, however old.
	other := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
	_, err = f.svc.Reject(ctx, f.carol, other.ID, approvals.Reject{Revision: 1, Comment: "not now"})
	require.NoError(t, err)
	f.ageApproval(t, other.ID, f.carol, 30*24*time.Hour)
	_, err = f.approve(t, f.carol, other)
	require.ErrorIs(t, err, approvals.ErrConflict)
}

// TestChangingTheApprovalAgeReevaluatesOpenRequests: lowering a policy's
// age makes older approvals stop counting (the preview says so); raising it
// makes them count again, and a request they now complete is approved.
func TestChangingTheApprovalAgeReevaluatesOpenRequests(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	open := f.file(t, f.alice, approvals.KindRestartServer, f.prod) // production: two
	_, err := f.approve(t, f.carol, open)
	require.NoError(t, err)
	_, err = f.approve(t, f.erin, open)
	require.NoError(t, err)
	require.Equal(t, approvals.StateApproved, state(t, f, open.ID))

	// A pending production request with two approvals, one three hours old.
	prod := policyNamed(t, f, "production")
	pending := f.file(t, f.alice, approvals.KindStop, f.prod)
	_, err = f.approve(t, f.carol, pending)
	require.NoError(t, err)
	f.ageApproval(t, pending.ID, f.carol, 3*time.Hour)

	draft := prod.Settings()
	draft.ApprovalMaxAge = time.Hour
	effects, err := f.svc.PolicyPreview(ctx, prod.ID, draft)
	require.NoError(t, err)
	require.Len(t, effects, 1)
	require.Equal(t, pending.ID, effects[0].RequestID)
	require.Equal(t, [2]int{1, 0}, [2]int{effects[0].BeforeGiven, effects[0].Given})
	_, err = f.svc.PolicySave(ctx, f.dave, prod.ID, draft, []string{"approvers"})
	require.NoError(t, err)
	e, err := approvals.Evaluate(ctx, f.pool, pending.ID)
	require.NoError(t, err)
	require.Zero(t, e.Given())
	require.Len(t, e.Expired, 1)
	require.Equal(t, time.Hour, e.Policy.ApprovalMaxAge)
	saved := f.events(t, pending.ID)
	require.NotContains(t, actions(saved), audit.RequestPolicyMet)

	// The policy's history says before and after in words.
	page, err := audit.List(ctx, f.pool, audit.Filter{Actions: []audit.Action{audit.PolicyUpdated}}, audit.PageRequest{Limit: 10})
	require.NoError(t, err)
	require.NotEmpty(t, page.Entries)
	var data struct {
		Before, After map[string]any
	}
	require.NoError(t, json.Unmarshal(page.Entries[0].Data, &data))
	require.Equal(t, "168h0m0s", data.Before["approval_max_age"])
	require.Equal(t, "1h0m0s", data.After["approval_max_age"])

	// Erin approves: one of two. Raising the age back makes Carol's count
	// again, which completes it.
	_, err = f.approve(t, f.erin, pending)
	require.NoError(t, err)
	draft.ApprovalMaxAge = 0 // the default
	_, err = f.svc.PolicySave(ctx, f.dave, prod.ID, draft, []string{"approvers"})
	require.NoError(t, err)
	require.Equal(t, approvals.DefaultApprovalMaxAge, policyNamed(t, f, "production").ApprovalMaxAge)
	require.Equal(t, approvals.StateApproved, state(t, f, pending.ID))
	require.Contains(t, actions(f.events(t, pending.ID)), audit.RequestPolicyMet)

	// An age below a second is refused, naming the field.
	draft.ApprovalMaxAge = -time.Hour
	_, err = f.svc.PolicySave(ctx, f.dave, prod.ID, draft, []string{"approvers"})
	require.ErrorIs(t, err, approvals.ErrInvalid)
	require.ErrorContains(t, err, "approvals expire after")

	// The approved request was left alone throughout: its execution
	// checks its approvals before sending it.
	require.Equal(t, approvals.StateApproved, state(t, f, open.ID))
}

// TestReturnIfApprovalsExpired: an approved request whose approvals expired
// goes back to pending with a request.updated event that says why; one
// whose approvals still count, or that is not approved, is left alone.
func TestReturnIfApprovalsExpired(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	worker := audit.System("worker")
	returned := func(id int64) bool {
		t.Helper()
		var got bool
		require.NoError(t, pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			r, err := approvals.Lock(ctx, tx, id)
			if err != nil {
				return err
			}
			got, err = approvals.ReturnIfApprovalsExpired(ctx, tx, &r, worker)
			return err
		}))
		return got
	}

	fresh := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
	_, err := f.approve(t, f.carol, fresh)
	require.NoError(t, err)
	require.False(t, returned(fresh.ID))
	require.Equal(t, approvals.StateApproved, state(t, f, fresh.ID))

	pending := f.file(t, f.alice, approvals.KindRestartServer, f.prod)
	_, err = f.approve(t, f.carol, pending)
	require.NoError(t, err)
	f.ageApproval(t, pending.ID, f.carol, 8*24*time.Hour)
	require.False(t, returned(pending.ID), "only an approved request goes back")

	old := f.file(t, f.alice, approvals.KindStop, f.staging)
	_, err = f.approve(t, f.erin, old)
	require.NoError(t, err)
	f.ageApproval(t, old.ID, f.erin, 8*24*time.Hour)
	require.True(t, returned(old.ID))
	require.Equal(t, approvals.StatePending, state(t, f, old.ID))
	entries := f.events(t, old.ID)
	last := entries[len(entries)-1]
	require.Equal(t, audit.RequestUpdated, last.Action)
	require.Equal(t, audit.ActorSystem, last.Actor.Type)
	var data map[string]any
	require.NoError(t, json.Unmarshal(last.Data, &data))
	require.Equal(t, approvals.ReasonApprovalsExpired, data["reason"])
	require.Equal(t, "approved", data["previous_state"])
	require.Equal(t, "pending", data["state"])
	require.Len(t, data["expired_approvals"], 1)

	// Erin renews: approved again.
	out, err := f.approve(t, f.erin, old)
	require.NoError(t, err)
	require.True(t, out.Completed)
	require.False(t, returned(old.ID))
}
