package templates

import (
	"slices"
	"strings"
)

// canAdmin reports whether the signed-in person sees the Admin menu entry
// (the routes decide; this only shows the link).
func (p Page) canAdmin() bool {
	return p.User != nil && slices.Contains(p.User.Roles, "admin")
}

// AdminTeamsView is the page of teams and ownership.
type AdminTeamsView struct {
	Teams []AdminTeamRow
	Rules []AdminRuleRow
	// Owners are the per-cluster overrides.
	Owners []AdminOwnerRow
	// Unowned lists clusters no defined team owns (the first few).
	Unowned []AdminClusterRef
	// Form is the team form as typed (re-shown on a mistake); Error says
	// what is wrong with the last submission.
	Form  AdminTeamForm
	Error string
}

// AdminTeamRow is one team.
type AdminTeamRow struct {
	Name, Description            string
	Requesters, Approvers, Leads []string
	LeadKinds, LeadEnvironments  []string
	DeleteURL, EditURL           string
}

// AdminTeamForm is the fields of the team form.
type AdminTeamForm struct {
	Name, Description            string
	Requesters, Approvers, Leads string
	LeadKinds, LeadEnvironments  string
}

// AdminRuleRow is one ownership rule.
type AdminRuleRow struct {
	Position  int
	Text      string
	DeleteURL string
}

// AdminOwnerRow is one cluster's explicit owner.
type AdminOwnerRow struct {
	ClusterName, ClusterURL, Team string
}

// AdminClusterRef links to a cluster.
type AdminClusterRef struct {
	Name, URL string
}

// groupsText lists groups, or a dash when there is none.
func groupsText(list []string) string {
	if len(list) == 0 {
		return "—"
	}
	return strings.Join(list, ", ")
}
