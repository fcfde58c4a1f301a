package auth

import "slices"

// Role is what a person may do in the portal. A person can hold several.
type Role string

// The roles, in the order the header shows them.
const (
	// RoleRequester may request changes to clusters.
	RoleRequester Role = "requester"
	// RoleApprover may approve or reject other people's change requests.
	RoleApprover Role = "approver"
	// RoleAdmin may edit policies and cancel any change request.
	RoleAdmin Role = "admin"
	// RoleAuditor may read and export the audit log.
	RoleAuditor Role = "auditor"
)

// AllRoles lists every role in display order.
func AllRoles() []Role { return []Role{RoleRequester, RoleApprover, RoleAdmin, RoleAuditor} }

// RoleGroups maps the provider's groups to roles. A person holds a role when
// they are in at least one of its groups.
type RoleGroups struct {
	// Requester lists the groups whose members may request changes; empty
	// means every person who signs in.
	Requester []string
	Approver  []string
	Admin     []string
	Auditor   []string
}

// Roles returns the roles that groups grant, in display order; none when the
// groups grant nothing.
func (m RoleGroups) Roles(groups []string) []Role {
	var roles []Role
	if len(m.Requester) == 0 || intersects(m.Requester, groups) {
		roles = append(roles, RoleRequester)
	}
	for _, r := range []struct {
		role   Role
		groups []string
	}{{RoleApprover, m.Approver}, {RoleAdmin, m.Admin}, {RoleAuditor, m.Auditor}} {
		if intersects(r.groups, groups) {
			roles = append(roles, r.role)
		}
	}
	return roles
}

// RoleGrant says which groups grant a role; no groups means everyone who
// signs in holds it.
type RoleGrant struct {
	Role   Role
	Groups []string
}

// Grants lists every role with the groups that grant it, in display order,
// for the page that tells a person how to get access.
func (m RoleGroups) Grants() []RoleGrant {
	return []RoleGrant{
		{RoleRequester, slices.Clone(m.Requester)},
		{RoleApprover, slices.Clone(m.Approver)},
		{RoleAdmin, slices.Clone(m.Admin)},
		{RoleAuditor, slices.Clone(m.Auditor)},
	}
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
