package approvals_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// allowed is the state machine as the design states it, written out again
// so that a change to the table in state.go has to be made twice.
var allowed = map[[2]approvals.State]bool{
	{approvals.StatePending, approvals.StateApproved}:     true,
	{approvals.StatePending, approvals.StateRejected}:     true,
	{approvals.StatePending, approvals.StateCancelled}:    true,
	{approvals.StatePending, approvals.StateStale}:        true,
	{approvals.StatePending, approvals.StateExpired}:      true,
	{approvals.StateStale, approvals.StatePending}:        true,
	{approvals.StateStale, approvals.StateCancelled}:      true,
	{approvals.StateStale, approvals.StateExpired}:        true,
	{approvals.StateApproved, approvals.StateSubmitting}:  true,
	{approvals.StateApproved, approvals.StatePending}:     true, // its approvals expired before it was sent
	{approvals.StateApproved, approvals.StateCancelled}:   true,
	{approvals.StateApproved, approvals.StateStale}:       true,
	{approvals.StateApproved, approvals.StateExpired}:     true,
	{approvals.StateSubmitting, approvals.StateApplying}:  true,
	{approvals.StateSubmitting, approvals.StateSucceeded}: true,
	{approvals.StateSubmitting, approvals.StateFailed}:    true,
	{approvals.StateSubmitting, approvals.StateStale}:     true,
	{approvals.StateApplying, approvals.StateSucceeded}:   true,
	{approvals.StateApplying, approvals.StateFailed}:      true,
	{approvals.StateFailed, approvals.StateApproved}:      true, // an admin resends it
	{approvals.StateFailed, approvals.StateCancelled}:     true, // or closes it
}

func TestStateMachineTable(t *testing.T) {
	t.Parallel()
	states := approvals.States()
	require.Len(t, states, 10)
	for _, from := range states {
		require.True(t, from.Valid())
		for _, to := range states {
			require.Equal(t, allowed[[2]approvals.State{from, to}], approvals.CanTransition(from, to), "%s → %s", from, to)
		}
	}
	for _, s := range []approvals.State{approvals.StateSucceeded, approvals.StateFailed, approvals.StateRejected,
		approvals.StateCancelled, approvals.StateExpired} {
		require.True(t, s.Terminal(), s)
		require.False(t, s.Open(), s)
		if s != approvals.StateFailed {
			require.Empty(t, s.Next(), s)
		}
	}
	require.Equal(t, []approvals.State{approvals.StateApproved, approvals.StateCancelled}, approvals.StateFailed.Next(),
		"only an admin's resend or close")
	for _, s := range []approvals.State{approvals.StatePending, approvals.StateStale, approvals.StateApproved,
		approvals.StateSubmitting, approvals.StateApplying} {
		require.True(t, s.Open(), s)
	}
	require.False(t, approvals.State("done").Valid())
	require.False(t, approvals.CanTransition("done", approvals.StatePending))
}

// TestTransitionAllowsAndRefusesEveryPair puts a stored request in each
// state and tries every move against the database.
func TestTransitionAllowsAndRefusesEveryPair(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for _, from := range approvals.States() {
		for _, to := range approvals.States() {
			t.Run(fmt.Sprintf("%s→%s", from, to), func(t *testing.T) {
				r := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
				_, err := f.pool.Exec(ctx, "UPDATE change_requests SET state = $2 WHERE id = $1", r.ID, string(from))
				require.NoError(t, err)

				var got approvals.Request
				err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
					var err error
					got, err = approvals.Transition(ctx, tx, r.ID, to)
					return err
				})
				if allowed[[2]approvals.State{from, to}] {
					require.NoError(t, err)
					require.Equal(t, to, got.State)
					require.Equal(t, to, state(t, f, r.ID))
				} else {
					require.ErrorIs(t, err, approvals.ErrInvalidTransition)
					require.Equal(t, from, state(t, f, r.ID), "unchanged")
				}
			})
		}
	}

	_ = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		_, err := approvals.Transition(ctx, tx, 424242, approvals.StateApproved)
		require.ErrorIs(t, err, approvals.ErrNotFound)
		return nil
	})
}
