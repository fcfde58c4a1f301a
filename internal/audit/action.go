package audit

import "slices"

// Action names what happened. The set is closed: Append refuses any other.
type Action string

// Change requests.
const (
	RequestCreated   Action = "request.created"    // a requester opened a change request
	RequestUpdated   Action = "request.updated"    // a new revision, earlier approvals void; or approved → pending (data: previous_state, reason)
	RequestCancelled Action = "request.cancelled"  // withdrawn by its requester or an admin
	RequestApproved  Action = "request.approved"   // one approval of one revision (data: revision, diff hash)
	RequestRejected  Action = "request.rejected"   // an approver said no
	RequestRebased   Action = "request.rebased"    // moved onto the live cluster's new base
	RequestStale     Action = "request.stale"      // the live cluster moved since the base
	RequestExpired   Action = "request.expired"    // nobody decided in time
	RequestPolicyMet Action = "request.policy_met" // an admin changed the policy and the approvals given now meet it
	// EMERGENCY: a break-glass change, approved without approvals (data:
	// justification, review due).
	RequestEmergency         Action = "request.emergency"
	RequestEmergencyReviewed Action = "request.emergency_reviewed" // an approver reviewed it afterwards
)

// Submission of an approved change to the Cloud Manager API.
const (
	SubmissionStarted    Action = "submission.started"
	SubmissionRetried    Action = "submission.retried" // busy (409), 5xx or timeout; will try again
	SubmissionSucceeded  Action = "submission.succeeded"
	SubmissionFailed     Action = "submission.failed"
	SubmissionReconciled Action = "submission.reconciled" // the change was found already applied
	SubmissionApplied    Action = "submission.applied"    // the cluster converged: the request succeeded
	SubmissionResent     Action = "submission.resent"     // an admin sent a failed change again
)

// Clusters and policies.
const (
	ClusterDriftDetected Action = "cluster.drift_detected" // changed outside the portal
	ClusterDeleted       Action = "cluster.deleted"
	PolicyCreated        Action = "policy.created"
	PolicyUpdated        Action = "policy.updated"
	PolicyDeleted        Action = "policy.deleted"
)

// Notifications (internal/notify): admins' endpoints and resends.
const (
	NotifyEndpointAdded   Action = "notify.endpoint_added"
	NotifyEndpointRemoved Action = "notify.endpoint_removed"
	NotifyDeliveryResent  Action = "notify.delivery_resent"
)

// Governance: teams and who owns which cluster (internal/governance). The
// data holds the state before and after.
const (
	TeamCreated      Action = "team.created"
	TeamUpdated      Action = "team.updated"
	TeamDeleted      Action = "team.deleted"
	OwnershipChanged Action = "ownership.changed" // a rule or a cluster's owner was set or removed
	WindowChanged    Action = "window.changed"    // a change window was added or removed
	FreezeChanged    Action = "freeze.changed"    // a freeze was added or removed
)

// Sign-in and authorization.
const (
	AuthSignIn       Action = "auth.signin"
	AuthSignOut      Action = "auth.signout"
	AuthSignInFailed Action = "auth.signin_failed"
	AuthDenied       Action = "auth.denied"
	AuthTokenCreated Action = "auth.token_created" // a person made a personal access token for the API
	AuthTokenRevoked Action = "auth.token_revoked" // a person revoked one
)

// The audit log itself.
const (
	AuditExported Action = "audit.exported"
	AuditVerified Action = "audit.verified"
	AuditPruned   Action = "audit.pruned"
)

var actions = []Action{
	RequestCreated, RequestUpdated, RequestCancelled, RequestApproved, RequestRejected,
	RequestRebased, RequestStale, RequestExpired, RequestPolicyMet, RequestEmergency, RequestEmergencyReviewed,
	SubmissionStarted, SubmissionRetried, SubmissionSucceeded, SubmissionFailed, SubmissionReconciled,
	SubmissionApplied, SubmissionResent,
	ClusterDriftDetected, ClusterDeleted, PolicyCreated, PolicyUpdated, PolicyDeleted,
	NotifyEndpointAdded, NotifyEndpointRemoved, NotifyDeliveryResent,
	TeamCreated, TeamUpdated, TeamDeleted, OwnershipChanged, WindowChanged, FreezeChanged,
	AuthSignIn, AuthSignOut, AuthSignInFailed, AuthDenied, AuthTokenCreated, AuthTokenRevoked,
	AuditExported, AuditVerified, AuditPruned,
}

// Actions lists every action, grouped by area.
func Actions() []Action { return slices.Clone(actions) }

// Valid reports whether a is one of the actions.
func (a Action) Valid() bool { return slices.Contains(actions, a) }

// SubjectType names what an event is about.
type SubjectType string

// The subject types.
const (
	SubjectRequest  SubjectType = "request"
	SubjectCluster  SubjectType = "cluster"
	SubjectPolicy   SubjectType = "policy"
	SubjectSession  SubjectType = "session"
	SubjectUser     SubjectType = "user"
	SubjectAuditLog SubjectType = "audit_log"
	// SubjectEndpoint is a notification endpoint (chat or webhook).
	SubjectEndpoint SubjectType = "notify_endpoint"
	// SubjectDelivery is a notification delivery.
	SubjectDelivery SubjectType = "notify_delivery"
	SubjectTeam     SubjectType = "team"
	// SubjectSchedule is the change windows and freezes.
	SubjectSchedule SubjectType = "schedule"
)

var subjectTypes = []SubjectType{SubjectRequest, SubjectCluster, SubjectPolicy, SubjectSession, SubjectUser, SubjectAuditLog,
	SubjectEndpoint, SubjectDelivery, SubjectTeam, SubjectSchedule}

// SubjectTypes lists every subject type.
func SubjectTypes() []SubjectType { return slices.Clone(subjectTypes) }

// Valid reports whether t is one of the subject types.
func (t SubjectType) Valid() bool { return slices.Contains(subjectTypes, t) }

// Subject is what an event is about: a change request, a cluster…
type Subject struct {
	Type SubjectType
	ID   string
}

// TheLog is the subject of events about the audit log itself.
var TheLog = Subject{Type: SubjectAuditLog, ID: "main"}

// ActorType says whether a person or the portal itself acted.
type ActorType string

// The actor types.
const (
	ActorUser   ActorType = "user"
	ActorSystem ActorType = "system"
)

// Actor is who did it: a person (their user id and display name at the time)
// or a part of the portal.
type Actor struct {
	Type ActorType
	ID   string
	Name string
}

// User is a person acting; name is their display name now, kept as it was.
func User(id, name string) Actor { return Actor{Type: ActorUser, ID: id, Name: name} }

// System is the portal acting on its own, for example System("worker") for a
// background job or System("cli") for a command.
func System(component string) Actor {
	return Actor{Type: ActorSystem, ID: component, Name: "Clusterdesk " + component}
}

// Origin is where a person's request came from; empty for background work.
type Origin struct {
	IP        string
	RequestID string
}
