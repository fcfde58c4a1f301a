package templates

import "strconv"

// RequestShowView is the page of one change request.
type RequestShowView struct {
	// Waits says until when an approved change waits for its change
	// window or a freeze; empty when it does not wait.
	Waits string
	// Expires says when a pending request nobody touches expires; empty
	// when requests never expire.
	Expires string
	// Emergency flags a break-glass change; nil for the others.
	Emergency   *EmergencyBanner
	ID          int64
	Kind        string
	ClusterUID  string
	ClusterName string
	Requester   string
	// State is the state in words, StateCode the raw state.
	State, StateCode string
	Revision         int
	FiledAt          TimeText
	Reason           string
	// HasBase is false for create requests.
	HasBase             bool
	BaseResourceVersion int64
	// Plan says what the request will do, before its diff.
	Plan  *PlanView
	Diff  []RequestDiffRow
	Risks []string
	// HardUpdate: the requester chose a hard update (force=true).
	HardUpdate bool
	// RestartsServer is the instance id a restart request restarts, and
	// RestartsServerText what the request saw of it (role, type,
	// address); empty for other kinds.
	RestartsServer, RestartsServerText string
	Takes                              RequestTakesView
	Decisions                          []RequestDecisionRow
	Timeline                           []RequestTimelineRow
	Submission                         *RequestSubmissionView
	// Events are the cluster's events since the request was approved,
	// newest first.
	Events []ClusterEventRow
	// Cancelled says who cancelled the request and why; nil unless it is
	// cancelled.
	Cancelled *RequestCancelledView
	// LiveURL is the page's event stream; empty when the portal runs
	// without live updates (the page then changes on reload only).
	LiveURL string
	// Live says, to a viewer who may approve, how the request stands
	// against the inventory's copy of the cluster and Cloud Manager's
	// stored dry run; empty otherwise.
	Live string
	// Freshness says how old what Live rests on is; nil when Live rests
	// on nothing stored.
	Freshness *RequestFreshnessView
	// CanApprove shows the approve and reject forms; CanReject the reject
	// form alone (the cluster moved, yet a rejection is still possible).
	CanApprove, CanReject bool
	// CanEdit links the requester (or an admin) to the edit form of a
	// pending or stale create or update request.
	CanEdit bool
	// CanRebase offers the requester (or an admin) to move a stale request
	// onto the live cluster.
	CanRebase bool
	// CanResend shows an admin the form that sends a failed change again.
	CanResend bool
	// CanCancel shows the cancel form (requester or admin, open request);
	// CancelNeedsReason when the viewer is an admin cancelling someone
	// else's request, who must say why.
	CanCancel, CancelNeedsReason bool
	// Form is what the decision forms hold, with a message per field.
	Form RequestDecisionForm
	// History is the rollback target, the fields not restored, the diff
	// of diffs and collisions.
	History RequestHistoryView
}

// RequestDecisionForm is what the decision forms posted, with a message
// per field in error (comment: the rejection's; cancel_reason and
// cancel_confirm: the cancel form's).
type RequestDecisionForm struct {
	Comment      string
	CancelReason string
	Errors       map[string]string
}

// RequestTakesView is "what it will take".
type RequestTakesView struct {
	Policy, PolicyDescription string
	Needed, Given             int
	Groups                    string
	ApprovedBy                []string
	// PolicyChanged says the policy was changed since the request was
	// filed, so what it takes was re-evaluated; empty otherwise.
	PolicyChanged string
	// Expired are the approvals that no longer count because they are
	// older than the policy's age (MaxAge), while the request waits for
	// approval.
	Expired []RequestExpiredApproval
	// ExpiresAt is when the first approval that counts expires, MaxAge how
	// long one counts ("7 days"); ExpiresAt is zero without approvals or
	// once the change is sent.
	ExpiresAt TimeText
	MaxAge    string
	// Renew: the viewer's own approval expired and they may approve afresh.
	Renew bool
	// ReturnsToApprovers says an approved change's approvals expired
	// before it was sent, so it will go back to pending; empty otherwise.
	ReturnsToApprovers string
	// Blocker says why the viewer may not approve; empty when they may.
	Blocker  string
	Overlaps []RequestOverlap
	// MoreOverlapsURL lists every other open request on the cluster when
	// Overlaps holds only the first of them; empty otherwise.
	MoreOverlapsURL string
}

// RequestExpiredApproval is an approval that expired: who gave it and
// when it stopped counting.
type RequestExpiredApproval struct {
	Approver string
	At       TimeText
}

// RequestOverlap is another open request on the same cluster.
type RequestOverlap struct {
	ID    int64
	URL   string // its page
	Kind  string
	State string // in words
	// SameFields: it changes fields this one changes (or deletes the
	// cluster), so one of them will need a rebase.
	SameFields bool
}

// RequestDecisionRow is one approval or rejection.
type RequestDecisionRow struct {
	Approver, Decision, Comment, Groups string
	Revision                            int
	At                                  TimeText
	Counts                              bool
	// Expired: an approval of this revision that no longer counts because
	// it is older than the policy's age. Renewed is when its approver
	// renewed it; zero if never.
	Expired bool
	Renewed TimeText
}

// RequestTimelineRow is one audit event about the request, said in words
// (RequestActionText).
type RequestTimelineRow struct {
	Seq      int64
	At       TimeText
	Sentence string
	// Quote is what the person wrote: a reason, a comment, an error.
	Quote string
	// State is the request state the event moved it to; empty if none.
	State string
}

// RequestCancelledView says who cancelled the request, when and why.
type RequestCancelledView struct {
	By     string
	At     TimeText
	Reason string // empty when none was given
	// ByAdmin: an admin withdrew someone else's request.
	ByAdmin bool
}

// RequestSubmissionView is the execution of the approved revision.
type RequestSubmissionView struct {
	ClusterState string
	// Accepted: Cloud Manager accepted the change.
	Accepted bool
	// ClusterUID is the cluster the change acts on, once known (a create's
	// cluster exists only after Cloud Manager made it).
	ClusterUID string
	// Applying: the cluster is applying it now.
	Applying bool
	// Progress says "Stage n of m." while an update runs; CurrentStage
	// and TotalStages draw it as a bar (TotalStages 0: no bar).
	Progress                  string
	CurrentStage, TotalStages int
	Reason                    string
	Attempts                  []RequestAttemptRow
}

// RequestAttemptRow is one call to the API.
type RequestAttemptRow struct {
	Number                    int
	Operation, Outcome, Error string
	Status                    int
	At                        TimeText
}

// restartTail ends the sentence that names the server a restart restarts:
// what the request saw of it, and what Cloud Manager does.
func restartTail(seen string) string {
	if seen != "" {
		seen = " (" + seen + ")"
	}
	return seen + ": Cloud Manager terminates it and starts a replacement with a new instance id."
}

// cancelledWho ends "Cancelled by X" before the time: an admin says so.
func cancelledWho(c *RequestCancelledView) string {
	if c.ByAdmin {
		return " (an admin), "
	}
	return ", "
}

// policyTail ends "Policy X" with the policy's description, if any.
func policyTail(description string) string {
	if description == "" {
		return "."
	}
	return ": " + description
}

// RequestFreshnessView is when the inventory last synced the cluster and
// when Cloud Manager's dry run of the revision ran, against which version
// (zero At: not known; zero CheckedVersion: a create, no cluster yet).
type RequestFreshnessView struct {
	SyncedAt       TimeText
	CheckedAt      TimeText
	CheckedVersion int64
}

// against names the version the dry run ran against, if any.
func (f RequestFreshnessView) against() string {
	if f.CheckedVersion == 0 {
		return ""
	}
	return " against version " + strconv.FormatInt(f.CheckedVersion, 10)
}
