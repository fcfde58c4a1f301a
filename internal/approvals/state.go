package approvals

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// State is where a change request is in its life (the table is
// transitions below; docs/ may draw it):
//
//	pending    → approved    the approval that meets the policy
//	           → rejected    an eligible approver says no
//	           → cancelled   by the requester or an admin
//	           → stale       the live cluster moved since the base
//	           → expired     nobody decided in time
//	stale      → pending     edited or rebased onto the live cluster
//	           → cancelled, expired
//	approved   → submitting  the worker starts the change (next issue)
//	           → pending     its approvals expired before it was sent
//	           → stale       the cluster moved before submission
//	           → cancelled, expired
//	submitting → applying    the API accepted the change
//	           → stale       the cluster moved between two attempts, and
//	                         the change is not there
//	           → succeeded   nothing left to follow (e.g. already applied)
//	           → failed      the API refused it
//	applying   → succeeded, failed
//	failed     → approved    an admin sends it again (the API never accepted it)
//	           → cancelled   an admin closes it: it will not be sent again
//
// succeeded, failed, rejected, cancelled and expired are terminal: failed
// too, as nothing happens to a failed request unless an admin resends or
// closes it. Editing
// a pending request keeps it pending (a new revision, not a transition).
type State string

// The states.
const (
	StatePending    State = "pending"
	StateApproved   State = "approved"
	StateSubmitting State = "submitting"
	StateApplying   State = "applying"
	StateSucceeded  State = "succeeded"
	StateFailed     State = "failed"
	StateRejected   State = "rejected"
	StateCancelled  State = "cancelled"
	StateStale      State = "stale"
	StateExpired    State = "expired"
)

var states = []State{StatePending, StateApproved, StateSubmitting, StateApplying, StateSucceeded, StateFailed,
	StateRejected, StateCancelled, StateStale, StateExpired}

// transitions is the state machine: the states each state may move to. A
// state missing here is terminal.
var transitions = map[State][]State{
	StatePending:    {StateApproved, StateRejected, StateCancelled, StateStale, StateExpired},
	StateStale:      {StatePending, StateCancelled, StateExpired},
	StateApproved:   {StateSubmitting, StatePending, StateCancelled, StateStale, StateExpired},
	StateSubmitting: {StateApplying, StateSucceeded, StateFailed, StateStale},
	StateApplying:   {StateSucceeded, StateFailed},
	StateFailed:     {StateApproved, StateCancelled},
}

// States lists every state.
func States() []State { return slices.Clone(states) }

// Valid reports whether s is one of the states.
func (s State) Valid() bool { return slices.Contains(states, s) }

// Terminal reports whether the request's life is over: nothing happens to
// it in state s (unless an admin resends or closes a failed one).
func (s State) Terminal() bool { return len(transitions[s]) == 0 || s == StateFailed }

// Open reports whether a request in state s still waits for a decision or
// for its execution (it counts as pending work on its cluster).
func (s State) Open() bool { return !s.Terminal() }

// Next lists the states s may move to.
func (s State) Next() []State { return slices.Clone(transitions[s]) }

// CanTransition reports whether the state machine allows from → to.
func CanTransition(from, to State) bool { return slices.Contains(transitions[from], to) }

// checkTransition returns ErrInvalidTransition unless from → to is allowed.
func checkTransition(from, to State) error {
	if !CanTransition(from, to) {
		return fmt.Errorf("%w: %s → %s", ErrInvalidTransition, from, to)
	}
	return nil
}

// Transition moves request id to state to inside tx, under a row lock, and
// announces it (NOTIFY). It is the entry point for the execution of
// approved requests (submitting, applying, succeeded, failed), whose
// callers write their own audit events in tx. Errors: ErrNotFound,
// ErrInvalidTransition.
func Transition(ctx context.Context, tx pgx.Tx, id int64, to State) (Request, error) {
	r, err := requestLock(ctx, tx, id)
	if err != nil {
		return Request{}, fmt.Errorf("approvals: request %d to %s: %w", id, to, err)
	}
	if err := requestSetState(ctx, tx, &r, to); err != nil {
		return Request{}, fmt.Errorf("approvals: request %d to %s: %w", id, to, err)
	}
	return r, nil
}

// SetState is Transition for a request the caller has already locked in tx
// (Lock) and holds as r: it moves r to state to and announces it without
// reading the request again. Errors: ErrInvalidTransition.
func SetState(ctx context.Context, tx pgx.Tx, r *Request, to State) error {
	if err := requestSetState(ctx, tx, r, to); err != nil {
		return fmt.Errorf("approvals: request %d to %s: %w", r.ID, to, err)
	}
	return nil
}

// requestSetState moves r, locked by the caller, to state to and notifies,
// in one statement.
func requestSetState(ctx context.Context, tx pgx.Tx, r *Request, to State) error {
	if err := checkTransition(r.State, to); err != nil {
		return err
	}
	next := *r
	next.State = to
	payload, err := notification(next)
	if err != nil {
		return err
	}
	err = tx.QueryRow(ctx, `
		WITH moved AS (
			UPDATE change_requests SET state = $2, updated_at = now()
			WHERE id = $1 AND state = $3
			RETURNING updated_at
		)
		SELECT updated_at, pg_notify($4, $5) FROM moved`,
		r.ID, string(to), string(r.State), inventory.NotifyChannel, payload).Scan(&r.UpdatedAt, nil)
	if errors.Is(err, pgx.ErrNoRows) {
		// Cannot happen under the row lock; refuse rather than guess.
		return fmt.Errorf("%w: request %d is no longer %s", ErrConflict, r.ID, r.State)
	}
	if err != nil {
		return err
	}
	r.State = to
	return nil
}

// requestTouch records activity on r (locked) that changes neither its
// state nor its revision, such as an approval short of the policy, and
// notifies.
func requestTouch(ctx context.Context, tx pgx.Tx, r *Request) error {
	payload, err := notification(*r)
	if err != nil {
		return err
	}
	return tx.QueryRow(ctx, `
		WITH touched AS (UPDATE change_requests SET updated_at = now() WHERE id = $1 RETURNING updated_at)
		SELECT updated_at, pg_notify($2, $3) FROM touched`,
		r.ID, inventory.NotifyChannel, payload).Scan(&r.UpdatedAt, nil)
}
