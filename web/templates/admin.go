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

// AdminPoliciesView lists every policy.
type AdminPoliciesView struct {
	Rows []AdminPolicyRow
	// NewName and NewDescription are the "New policy" form's values, kept
	// when Error refuses them.
	NewName, NewDescription string
	Error                   string
}

// AdminPolicyRow is one policy in the list.
type AdminPolicyRow struct {
	ID                                 int64
	Name, URL, Description             string
	Teams                              []string
	Environments, Kinds, Risks, Groups []string
	Approvals                          int
	TeamLead, Enabled                  bool
}

// AdminPolicyView is one policy's page: its form, the preview of a draft
// and its history.
type AdminPolicyView struct {
	ID           int64
	Name, Action string
	Form         AdminPolicyForm
	Error        string
	// Previewed is set when the form was sent for a preview; Effects are
	// the open requests the draft would move.
	Previewed bool
	Effects   []AdminPolicyEffect
	// Saved lists, after a save, the open requests it moved.
	Saved   bool
	History []AdminPolicyChange
	// KindOptions and RiskOptions are the checkboxes.
	KindOptions, RiskOptions []ClusterOption
	// TeamOptions are the teams' checkboxes: the defined teams.
	TeamOptions []ClusterOption
}

// AdminPolicyForm is the policy's fields as typed.
type AdminPolicyForm struct {
	Description, Environments, Groups string
	Approvals                         string
	TeamLead, Enabled                 bool
	// ApprovalMaxAge is "Approvals expire after" as typed ("7d", "36h").
	ApprovalMaxAge string
}

// AdminPolicyEffect is one open request a policy change moves.
type AdminPolicyEffect struct {
	RequestURL, Request, Before, After string
	Met                                bool
}

// AdminPolicyChange is one change in a policy's history.
type AdminPolicyChange struct {
	At, AtText, Actor, EventURL string
	Changes                     []string // "approvals_required: 2 → 3"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// AdminWindowsView is the page of change windows and freezes.
type AdminWindowsView struct {
	Windows []AdminWindowRow
	Freezes []AdminFreezeRow
	Error   string
}

// AdminWindowRow is one change window.
type AdminWindowRow struct {
	Text, Covers, DeleteURL string
}

// AdminFreezeRow is one freeze that has not ended.
type AdminFreezeRow struct {
	Reason, Covers, DeleteURL string
	Starts, Ends              TimeText
}

// EmergencyNewView is the break-glass form of one cluster.
type EmergencyNewView struct {
	ClusterUID, ClusterName, Environment string
	Kinds                                []ClusterOption
	Servers                              []ClusterOption
	Justification, ConfirmName           string
	Error                                string
}

// EmergencyBanner flags an emergency change on its request's page.
type EmergencyBanner struct {
	Justification string
	FiledAt       TimeText
	ReviewDue     TimeText
	Overdue       bool
	// ReviewedBy is empty until an approver reviews it.
	ReviewedBy    string
	ReviewedAt    TimeText
	ReviewComment string
	// CanReview shows the review form to an approver who did not file it.
	CanReview bool
}

// AdminEmergenciesView lists the emergencies awaiting review.
type AdminEmergenciesView struct {
	Rows []AdminEmergencyRow
}

// AdminEmergencyRow is one emergency awaiting review.
type AdminEmergencyRow struct {
	URL, Request, Requester, Justification string
	ReviewDue                              TimeText
	Overdue                                bool
}
