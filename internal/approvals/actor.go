package approvals

import (
	"strconv"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// Actor is the person doing something, as the web layer knows them at
// that moment: their user id, display name and the groups of their
// session (fresh from the identity provider), and the portal roles those
// groups grant. Who may approve is decided at the moment of the decision
// from Approver and Groups (see Policy.Eligible), and Groups are recorded
// in the audit event.
type Actor struct {
	UserID int64
	Name   string
	Groups []string
	// Approver is true when the person holds the portal's approver role
	// (PORTAL_APPROVER_GROUPS). Without it they approve and reject nothing,
	// whatever groups a policy names: the zero Actor is no approver.
	Approver bool
	Admin    bool
	// Origin is where the web request came from, for the audit log.
	Origin audit.Origin
}

func (a Actor) audit() audit.Actor { return audit.User(strconv.FormatInt(a.UserID, 10), a.Name) }

// approvingGroups returns the groups through which a may approve: their
// Groups when they hold the approver role, none otherwise. Policy.Eligible
// and ListAwaiting both intersect a policy's approver groups with it, so
// the approvals queue and the decisions cannot disagree.
func (a Actor) approvingGroups() []string {
	if !a.Approver {
		return []string{}
	}
	return nonNil(a.Groups)
}

// systemActor is who the audit log names for changes the portal makes by
// itself (a request going stale after a sync, expiry).
var systemActor = audit.System("approvals")

// Person is a user as a request shows them.
type Person struct {
	ID   int64
	Name string
}
