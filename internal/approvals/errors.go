package approvals

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns wraps one of them (or is
// the database's), with a prefix naming the operation, e.g.
// "approvals: approve request 42: approvals: forbidden: …"; match them with
// errors.Is. The web layer maps them to HTTP statuses in one table.
var (
	// ErrNotFound: no such request, or its cluster is not in the inventory
	// (or was deleted).
	ErrNotFound = errors.New("approvals: not found")
	// ErrForbidden: the actor may not do this to this request.
	ErrForbidden = errors.New("approvals: forbidden")
	// ErrConflict: the request or cluster changed in a way that makes the
	// action wrong now (an edit against an old revision, a name already
	// taken, a second decision by the same person).
	ErrConflict = errors.New("approvals: conflict")
	// ErrInvalidTransition: the request's state does not allow the action.
	ErrInvalidTransition = errors.New("approvals: invalid state transition")
	// ErrStale: the live cluster's resource version moved since the
	// request's base (or since the form was built); the request needs a
	// rebase before anyone may approve it.
	ErrStale = errors.New("approvals: the cluster changed since the request was based on it")
	// ErrInvalid: the input is incomplete or wrong (see ValidationError
	// for per-field problems).
	ErrInvalid = errors.New("approvals: invalid input")
	// ErrNoPolicy: no enabled policy matches the request, so nobody may
	// approve it (the policies fail closed).
	ErrNoPolicy = errors.New("approvals: no approval policy matches")
)

// Reasons for ErrForbidden and ErrInvalid; errors.Is matches both the
// reason and its parent.
var (
	// ErrOwnRequest: four-eyes. The requester and everyone who made a
	// revision of a request may not approve or reject it. Not overridable,
	// not even by admins.
	ErrOwnRequest = fmt.Errorf("%w: four-eyes: the requester and the editors of a request may not decide on it", ErrForbidden)
	// ErrNotEligible: the actor may not approve under the policy that
	// applies: they lack the approver role (ErrNoApproverRole) or are in
	// none of its approver groups (see Policy.Eligible).
	ErrNotEligible = fmt.Errorf("%w: not a member of an approver group of the policy", ErrForbidden)
	// ErrNoApproverRole: the actor does not hold the approver role
	// (PORTAL_APPROVER_GROUPS), so no policy lets them decide.
	ErrNoApproverRole = fmt.Errorf("%w: no approver role", ErrNotEligible)
	// ErrCollision: an earlier open request on the same cluster changes the
	// same fields; this one may be approved once that one is finished and
	// this one rebased onto its result.
	ErrCollision = fmt.Errorf("%w: an earlier open request changes the same fields", ErrConflict)
	// ErrNoChange: the proposal changes nothing on the cluster.
	ErrNoChange = fmt.Errorf("%w: the proposal changes nothing", ErrInvalid)
)
