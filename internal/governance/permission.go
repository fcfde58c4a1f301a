package governance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// Person is who asks: their user id, groups and whether they are an admin.
type Person struct {
	ID     int64
	Groups []string
	Admin  bool
}

// PersonOf returns the person an approvals.Actor is.
func PersonOf(a approvals.Actor) Person {
	return Person{ID: a.UserID, Groups: a.Groups, Admin: a.Admin}
}

func (p Person) inAny(groups []string) bool {
	return slices.ContainsFunc(p.Groups, func(g string) bool { return slices.Contains(groups, g) })
}

// Target is the cluster acted on, as permissions see it.
type Target struct {
	Cluster     string // its name, for the reason
	Team        string // the owning team; "" or an undefined team: unowned
	Environment string
}

// Act is what the person wants to do.
type Act struct {
	Kind approvals.Kind
	// Approve is true for an approval of a request of Kind, false for
	// filing one.
	Approve bool
	// For an approval: the requester and the authors of its revisions
	// (four eyes), whether the policy wants a team lead among the
	// approvers, whether one already approved, and how many approvals are
	// still missing.
	Requesters   []int64
	LeadRequired bool
	LeadApproved bool
	Missing      int
}

// Teams are the teams defined, by name. The zero value (none) allows
// everything: the global roles decide.
type Teams map[string]Team

// Allowed is the permission function: nil when p may do act on t, else an
// *approvals.Refusal saying what would grant it. The rules, in order:
//
//   - no team is defined: allowed (the global roles decide, as before);
//   - an approval by a requester or editor of the request: refused (four
//     eyes; never overridable);
//   - an unowned cluster: only admins may request changes; approvals
//     follow the policy alone;
//   - a request of one of the team's lead kinds (delete by default) or on
//     one of its lead environments (production by default): the team's
//     lead groups;
//   - any other request: the team's requester or lead groups;
//   - an approval: the team's approver or lead groups; when the policy
//     wants a team lead and none approved yet, the approval that would
//     complete the request must come from a lead.
func (ts Teams) Allowed(p Person, t Target, act Act) error {
	if len(ts) == 0 {
		return nil
	}
	if act.Approve && slices.Contains(act.Requesters, p.ID) {
		return refuse("four eyes: someone other than the requester and the editors of the request must approve it")
	}
	team, owned := ts[t.Team]
	if !owned {
		if act.Approve || p.Admin {
			return nil
		}
		return refuse("%s has no owning team, so only an admin may request changes on it; an admin can assign it to a team under Admin → Teams", t.Cluster)
	}
	if act.Approve {
		approvers := union(team.ApproverGroups, team.LeadGroups)
		if !p.inAny(approvers) {
			return refuse("approving changes on the %s team's clusters needs a member of %s", team.Name, groupList(approvers))
		}
		if act.LeadRequired && !act.LeadApproved && act.Missing <= 1 && !p.inAny(team.LeadGroups) {
			return refuse("the policy wants a lead of team %s among the approvers, so the last approval needs a member of %s", team.Name, groupList(team.LeadGroups))
		}
		return nil
	}
	if why := team.leadOnly(act.Kind, t.Environment); why != "" {
		if !p.inAny(team.LeadGroups) {
			return refuse("%s on the %s team's clusters need a member of %s (the team's leads)", why, team.Name, groupList(team.LeadGroups))
		}
		return nil
	}
	requesters := union(team.RequesterGroups, team.LeadGroups)
	if !p.inAny(requesters) {
		return refuse("requesting changes on the %s team's clusters needs a member of %s", team.Name, groupList(requesters))
	}
	return nil
}

// leadOnly says why only leads may request kind in environment ("deletes",
// "changes in production"), or "" when requesters may.
func (t Team) leadOnly(kind approvals.Kind, environment string) string {
	switch {
	case slices.Contains(t.LeadKinds, string(kind)):
		return string(kind) + " requests"
	case slices.Contains(t.LeadEnvironments, environment):
		return "changes in " + environment
	}
	return ""
}

func refuse(format string, args ...any) error {
	return &approvals.Refusal{Reason: fmt.Sprintf(format, args...)}
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, g := range b {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// groupList says groups in words: "a, b or c"; "no group" when empty (then
// nobody qualifies, and an admin must add one).
func groupList(groups []string) string {
	switch len(groups) {
	case 0:
		return "a group the team does not name yet (an admin must add one)"
	case 1:
		return groups[0]
	}
	return strings.Join(groups[:len(groups)-1], ", ") + " or " + groups[len(groups)-1]
}
