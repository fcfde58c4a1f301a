package notify

import (
	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// Kind is a kind of event people are told of, and the unit of their
// preferences.
type Kind string

// The kinds.
const (
	KindWaiting   Kind = "waiting"   // a request waits for your approval (filed, edited or rebased)
	KindApproved  Kind = "approved"  // your request was approved
	KindRejected  Kind = "rejected"  // your request was rejected
	KindCancelled Kind = "cancelled" // your request was cancelled by someone else
	KindStale     Kind = "stale"     // your request is out of date and needs a rebase
	KindSubmitted Kind = "submitted" // the change was sent to Cloud Manager
	KindSucceeded Kind = "succeeded" // the change converged
	KindFailed    Kind = "failed"    // the change failed
	KindExpired   Kind = "expired"   // your pending request expired undecided
	KindResent    Kind = "resent"    // an admin sent a failed change again
	KindEmergency Kind = "emergency" // an emergency (break-glass) change was sent without approval
	// KindHardUpdate: a hard update (every affected server restarted at
	// once) was sent; told to Config.HardUpdateGroups only.
	KindHardUpdate Kind = "hard_update"
)

// Kinds lists every kind in the order the preferences page shows them.
func Kinds() []Kind {
	return []Kind{KindWaiting, KindApproved, KindRejected, KindCancelled, KindStale, KindExpired, KindSubmitted, KindResent, KindSucceeded, KindFailed, KindEmergency, KindHardUpdate}
}

// kindOf maps the audit action of a change to the kind people are told of;
// false for actions nobody is told of.
func kindOf(a audit.Action) (Kind, bool) {
	switch a {
	case audit.RequestCreated, audit.RequestUpdated, audit.RequestRebased:
		return KindWaiting, true
	case audit.RequestApproved:
		return KindApproved, true
	case audit.RequestRejected:
		return KindRejected, true
	case audit.RequestCancelled:
		return KindCancelled, true
	case audit.RequestStale:
		return KindStale, true
	case audit.SubmissionSucceeded, audit.SubmissionReconciled:
		return KindSubmitted, true
	case audit.SubmissionApplied:
		return KindSucceeded, true
	case audit.SubmissionFailed:
		return KindFailed, true
	case audit.RequestExpired:
		return KindExpired, true
	case audit.SubmissionResent:
		return KindResent, true
	case audit.RequestEmergency:
		return KindEmergency, true
	}
	return "", false
}

// Label is the kind as the preferences page names it.
func (k Kind) Label() string {
	switch k {
	case KindWaiting:
		return "A request waits for my approval"
	case KindApproved:
		return "My request was approved"
	case KindRejected:
		return "My request was rejected"
	case KindCancelled:
		return "My request was cancelled by someone else"
	case KindStale:
		return "My request is out of date and needs a rebase"
	case KindSubmitted:
		return "A change I requested or approved was sent to Cloud Manager"
	case KindSucceeded:
		return "A change I requested or approved is done"
	case KindFailed:
		return "A change I requested or approved failed"
	case KindExpired:
		return "My request expired before anyone decided"
	case KindResent:
		return "An admin sent a failed change I requested or approved again"
	case KindEmergency:
		return "Someone made an emergency (break-glass) change"
	case KindHardUpdate:
		return "A hard update (servers restarted at once) was sent"
	}
	return string(k)
}

// DefaultEmail is whether a person who chose nothing gets an email of
// kind: approvers get "waiting for you", requesters get outcomes; the
// step in between (submitted) is left out.
func (k Kind) DefaultEmail() bool { return k != KindSubmitted }

// toApprovers is true for the kinds that go to the people who approved
// (besides the requester).
func (k Kind) toApprovers() bool {
	return k == KindSubmitted || k == KindSucceeded || k == KindFailed || k == KindResent
}

// Title is the short headline of an event of kind on a request.
func (k Kind) Title() string {
	switch k {
	case KindWaiting:
		return "waits for your approval"
	case KindApproved:
		return "approved"
	case KindRejected:
		return "rejected"
	case KindCancelled:
		return "cancelled"
	case KindStale:
		return "out of date: rebase it"
	case KindSubmitted:
		return "sent to Cloud Manager"
	case KindSucceeded:
		return "done"
	case KindFailed:
		return "failed"
	case KindExpired:
		return "expired undecided"
	case KindResent:
		return "sent again by an admin"
	case KindEmergency:
		return "EMERGENCY change, sent without approval"
	case KindHardUpdate:
		return "HARD UPDATE sent: servers restart at once"
	}
	return string(k)
}
