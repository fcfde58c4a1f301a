package templates

import (
	"fmt"
	"strconv"
)

// The one vocabulary of states: every badge (requests and clusters), the
// request timeline, the requests list and the audit log say a state with
// these words and this colour, and the legend (StateLegend) explains them
// once. The words carry the meaning; the colour only repeats it.

// The colour classes of states (web/static/app.css), one per kind of state.
const (
	// StateWaiting: someone must act (approve, rebase). Amber.
	StateWaiting = "state-waiting"
	// StateActive: under way, nobody needs to act. Blue.
	StateActive = "state-active"
	// StateOK: done, or running as it should. Green.
	StateOK = "state-ok"
	// StateBad: failed or refused. Red.
	StateBad = "state-bad"
	// StateOff: closed without effect, or stopped. Grey.
	StateOff = "state-off"
)

// StateInfo is how one state of a change request is shown.
type StateInfo struct {
	Code string // as stored: pending, succeeded…
	// Label is the badge's words.
	Label string
	// Meaning is one sentence: what the state means and who acts next.
	Meaning string
	Class   string
}

// requestStates are the states of a change request in lifecycle order.
var requestStates = []StateInfo{
	{"pending", "Waiting for approval", "Filed and waiting for the approvals its policy asks for.", StateWaiting},
	{"stale", "Out of date", "The cluster changed since the request was made: its requester must rebase it before anyone can approve it.", StateWaiting},
	{"approved", "Approved, waiting to be sent", "Approved: Clusterdesk sends it to Cloud Manager shortly.", StateActive},
	{"submitting", "Being sent to Cloud Manager", "Clusterdesk is sending the change to Cloud Manager.", StateActive},
	{"applying", "Being applied to the cluster", "Cloud Manager accepted the change and is applying it to the cluster.", StateActive},
	{"succeeded", "Done", "The change is applied: the cluster converged.", StateOK},
	{"failed", "Failed", "The change could not be applied; the page says why.", StateBad},
	{"rejected", "Rejected", "An approver refused the request; nothing was changed.", StateBad},
	{"cancelled", "Cancelled", "Withdrawn by its requester or an admin; nothing was changed.", StateOff},
	{"expired", "Expired", "Nobody decided in time; nothing was changed.", StateOff},
}

// RequestStates lists the states of a change request in lifecycle order.
func RequestStates() []StateInfo { return append([]StateInfo(nil), requestStates...) }

// RequestState is how the request state code is shown; an unknown code
// is shown as itself, in grey.
func RequestState(code string) StateInfo {
	for _, s := range requestStates {
		if s.Code == code {
			return s
		}
	}
	return StateInfo{Code: code, Label: code, Class: StateOff}
}

// clusterStateMeanings explain a cluster badge by its class.
var clusterStateMeanings = map[string]string{
	"state-ok":    "Cloud Manager reports the cluster running.",
	"state-busy":  "Cloud Manager is changing the cluster now.",
	"state-off":   "The cluster is stopped: it has no servers.",
	"state-gone":  "Cloud Manager no longer lists the cluster.",
	"state-other": "A state Clusterdesk does not know; see Cloud Manager.",
}

// clusterStateMeaning explains a cluster's badge.
func clusterStateMeaning(b ClusterStateBadge) string { return clusterStateMeanings[b.Class] }

// ActionText is an audit event about a change request said in words
// people use.
type ActionText struct {
	// Sentence says what happened, with who did it when a person did.
	Sentence string
	// Quote is what the person wrote (a reason, a comment); empty if none.
	Quote string
	// State is the request state the event moved it to, empty when the
	// event moves no state (an approval short of the policy).
	State string
}

// RequestActionText says an audit event about a change request (action,
// e.g. "request.cancelled") for people: actor is the name the log keeps,
// data the event's data. An unknown action is said as itself.
func RequestActionText(action, actor string, data map[string]any) ActionText {
	str := func(k string) string { s, _ := data[k].(string); return s }
	num := func(k string) string {
		switch n := data[k].(type) {
		case float64:
			return strconv.FormatInt(int64(n), 10)
		case int:
			return strconv.Itoa(n)
		case int64:
			return strconv.FormatInt(n, 10)
		}
		return ""
	}
	revision := func(verb string) string {
		if r := num("revision"); r != "" {
			return fmt.Sprintf("%s %s revision %s.", actor, verb, r)
		}
		return fmt.Sprintf("%s %s the request.", actor, verb)
	}
	switch action {
	case "request.created":
		return ActionText{Sentence: actor + " filed the request.", State: "pending"}
	case "request.updated":
		if str("previous_state") == "approved" {
			// Not an edit: the worker sent it back to its approvers.
			return ActionText{Sentence: actor + " sent the request back for approval: " + str("reason") + ".", State: "pending"}
		}
		return ActionText{Sentence: revision("edited the request, making"), State: "pending"}
	case "request.rebased":
		return ActionText{Sentence: revision("rebased the request onto the live cluster, making"), State: "pending"}
	case "request.approved":
		return ActionText{Sentence: revision("approved"), Quote: str("comment")}
	case "request.rejected":
		return ActionText{Sentence: revision("rejected"), Quote: str("comment"), State: "rejected"}
	case "request.cancelled":
		return ActionText{Sentence: actor + " cancelled the request.", Quote: str("comment"), State: "cancelled"}
	case "request.stale":
		return ActionText{Sentence: "The cluster changed since the request was made: it needs a rebase before anyone can approve it.", State: "stale"}
	case "request.policy_met":
		return ActionText{Sentence: actor + " changed the approval policy " + str("policy") + ": the approvals given now meet it.", State: "approved"}
	case "request.emergency":
		return ActionText{Sentence: "EMERGENCY: " + actor + " filed this as an emergency change: it is sent without approvals and must be reviewed afterwards.", Quote: str("justification"), State: "approved"}
	case "request.emergency_reviewed":
		return ActionText{Sentence: actor + " reviewed the emergency change.", Quote: str("comment")}
	case "request.expired":
		return ActionText{Sentence: "Nobody decided in time: the request expired.", State: "expired"}
	case "submission.started":
		return ActionText{Sentence: "Clusterdesk sent the change to Cloud Manager.", State: "submitting"}
	case "submission.retried":
		return ActionText{Sentence: "Cloud Manager was busy or did not answer; Clusterdesk tries again.", Quote: str("error")}
	case "submission.succeeded":
		return ActionText{Sentence: "Cloud Manager accepted the change.", State: "applying"}
	case "submission.reconciled":
		return ActionText{Sentence: "The change was found already applied by an earlier attempt.", State: "applying"}
	case "submission.applied":
		return ActionText{Sentence: "The change is applied: the cluster converged.", State: "succeeded"}
	case "submission.failed":
		return ActionText{Sentence: "The change failed.", Quote: str("reason"), State: "failed"}
	case "submission.resent":
		return ActionText{Sentence: actor + " sent the failed change again.", Quote: str("comment"), State: "approved"}
	}
	return ActionText{Sentence: actor + ": " + action + "."}
}
