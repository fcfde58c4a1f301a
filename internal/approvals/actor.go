package approvals

import (
	"slices"
	"strconv"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// Actor is the person doing something, as the web layer knows them at
// that moment: their user id, display name and the groups of their
// session (fresh from the identity provider), and whether they are an
// admin. Approval eligibility is decided from Groups at the moment of the
// approval, and Groups are recorded in the audit event.
type Actor struct {
	UserID int64
	Name   string
	Groups []string
	Admin  bool
	// Origin is where the web request came from, for the audit log.
	Origin audit.Origin
}

func (a Actor) audit() audit.Actor { return audit.User(strconv.FormatInt(a.UserID, 10), a.Name) }

// inAnyGroup reports whether a is in at least one of groups.
func (a Actor) inAnyGroup(groups []string) bool {
	for _, g := range a.Groups {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// systemActor is who the audit log names for changes the portal makes by
// itself (a request going stale after a sync, expiry).
var systemActor = audit.System("approvals")

// Person is a user as a request shows them.
type Person struct {
	ID   int64
	Name string
}
