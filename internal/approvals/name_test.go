package approvals_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// A new cluster's name is checked against the inventory and the open
// create requests before filing (the forms' live check), with the same
// rule that Create applies: who has the name is said, a deleted cluster's
// name is free, and the request being edited does not count.
func TestCheckNameSaysWhoHasIt(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	err := f.svc.CheckName(ctx, " analytics-prod ", 0)
	taken, ok := errors.AsType[*approvals.NameTakenError](err)
	require.True(t, ok, "%v", err)
	require.ErrorIs(t, err, approvals.ErrConflict)
	require.Equal(t, approvals.NameTakenError{Name: "analytics-prod", ClusterUID: f.prod}, *taken)
	require.Equal(t, approvals.Violation{Target: "metadata.name", Code: cloudapi.CodeMalformedValue,
		Message: "A cluster named analytics-prod already exists. Choose another name."}, taken.Violation())

	require.NoError(t, f.svc.CheckName(ctx, "reports-dev", 0))
	require.NoError(t, f.svc.CheckName(ctx, "Analytics-Prod", 0), "names are compared exactly, as Cloud Manager keeps them")
	require.NoError(t, f.svc.CheckName(ctx, "", 0), "a missing name is ValidateCreate's to say")

	t.Run("an open create request has it", func(t *testing.T) {
		spec := newSpec()
		r, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindCreate, Name: "orders-dev", Reason: "x", Spec: &spec})
		require.NoError(t, err)
		err = f.svc.CheckName(ctx, "orders-dev", 0)
		taken, ok := errors.AsType[*approvals.NameTakenError](err)
		require.True(t, ok, "%v", err)
		require.Equal(t, r.ID, taken.RequestID)
		require.Empty(t, taken.ClusterUID)
		require.Contains(t, taken.Violation().Message, "already asks to create a cluster named orders-dev")
		require.NoError(t, f.svc.CheckName(ctx, "orders-dev", r.ID), "the request being edited keeps its name")

		_, err = f.svc.Create(ctx, f.bob, approvals.NewRequest{Kind: approvals.KindCreate, Name: "orders-dev", Reason: "x", Spec: &spec})
		taken, ok = errors.AsType[*approvals.NameTakenError](err)
		require.True(t, ok, "filing says the same: %v", err)
		require.Equal(t, r.ID, taken.RequestID)
	})
	t.Run("a deleted cluster's name is free", func(t *testing.T) {
		_, err := f.pool.Exec(ctx, `UPDATE clusters SET deleted_at = now() WHERE uid = $1`, f.dev)
		require.NoError(t, err)
		require.NoError(t, f.svc.CheckName(ctx, "clickstream-dev", 0))
		spec := newSpec()
		_, err = f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindCreate, Name: "clickstream-dev", Reason: "again", Spec: &spec})
		require.NoError(t, err)
	})
}
