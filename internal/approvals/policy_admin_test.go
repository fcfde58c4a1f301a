package approvals_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
)

func policyNamed(t *testing.T, f *fixture, name string) approvals.PolicyAdmin {
	t.Helper()
	list, err := approvals.PolicyList(context.Background(), f.pool)
	require.NoError(t, err)
	for _, p := range list {
		if p.Name == name {
			pa, err := approvals.PolicyAdminGet(context.Background(), f.pool, p.ID)
			require.NoError(t, err)
			return pa
		}
	}
	t.Fatalf("no policy %s", name)
	return approvals.PolicyAdmin{}
}

// TestPolicyAdministration: a preview names the open requests a draft
// moves and saves nothing; a save is audited with before and after,
// re-evaluates open requests (one whose approvals now suffice is
// approved) and leaves approved requests alone.
func TestPolicyAdministration(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	prod := policyNamed(t, f, "production")
	require.Equal(t, 2, prod.ApprovalsRequired)

	open := f.file(t, f.alice, approvals.KindRestartServer, f.prod)
	_, err := f.approve(t, f.carol, open)
	require.NoError(t, err)
	done := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
	out, err := f.approve(t, f.carol, done)
	require.NoError(t, err)
	require.True(t, out.Completed)

	draft := prod.Settings()
	draft.ApprovalsRequired = 3
	effects, err := f.svc.PolicyPreview(ctx, prod.ID, draft)
	require.NoError(t, err)
	require.Len(t, effects, 1)
	require.Equal(t, open.ID, effects[0].RequestID)
	require.Equal(t, [2]int{2, 3}, [2]int{effects[0].BeforeNeeded, effects[0].AfterNeeded})
	require.Equal(t, 2, policyNamed(t, f, "production").ApprovalsRequired, "a preview saves nothing")

	_, err = f.svc.PolicySave(ctx, f.dave, prod.ID, draft, []string{"approvers"})
	require.NoError(t, err)
	e, err := approvals.Evaluate(ctx, f.pool, open.ID)
	require.NoError(t, err)
	require.Equal(t, 3, e.Needed())
	require.Equal(t, 2, e.Missing())
	_, changed, err := approvals.PolicyChangedSince(ctx, f.pool, prod.ID, open.CreatedAt)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, approvals.StateApproved, state(t, f, done.ID), "approved requests keep their approvals")

	events, err := audit.List(ctx, f.pool, audit.Filter{Actions: []audit.Action{audit.PolicyUpdated}}, audit.PageRequest{})
	require.NoError(t, err)
	require.Len(t, events.Entries, 1)
	require.Contains(t, string(events.Entries[0].Data), `"approvals_required": 2`)
	require.Contains(t, string(events.Entries[0].Data), `"approvals_required": 3`)

	// Down to one: the approval given meets it, and the request is approved.
	draft.ApprovalsRequired = 1
	effects, err = f.svc.PolicySave(ctx, f.dave, prod.ID, draft, []string{"approvers"})
	require.NoError(t, err)
	require.Len(t, effects, 1)
	require.True(t, effects[0].Met())
	require.Equal(t, approvals.StateApproved, state(t, f, open.ID))
	require.Contains(t, actions(f.events(t, open.ID)), audit.RequestPolicyMet)

	// Mistakes are refused.
	draft.ApproverGroups = []string{"friends"}
	_, err = f.svc.PolicySave(ctx, f.dave, prod.ID, draft, []string{"approvers"})
	require.ErrorIs(t, err, approvals.ErrInvalid)
	draft.ApproverGroups, draft.ApprovalsRequired = []string{"approvers"}, 0
	_, err = f.svc.PolicySave(ctx, f.dave, prod.ID, draft, nil)
	require.ErrorIs(t, err, approvals.ErrInvalid)
}
