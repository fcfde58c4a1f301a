package governance_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/governance"
)

// TestAllowed walks the permission function over a table of (person's
// groups, cluster's team and environment, what they do).
func TestAllowed(t *testing.T) {
	t.Parallel()
	teams := governance.Teams{
		"payments": {Name: "payments", RequesterGroups: []string{"payments-devs"}, ApproverGroups: []string{"payments-approvers"},
			LeadGroups: []string{"payments-leads"}, LeadKinds: []string{"delete"}, LeadEnvironments: []string{"production"}},
		"search": {Name: "search", RequesterGroups: []string{"search-devs"}, ApproverGroups: []string{"search-approvers"},
			LeadGroups: []string{"search-leads"}, LeadKinds: []string{"delete"}, LeadEnvironments: []string{"production"}},
	}
	dev := governance.Person{ID: 1, Groups: []string{"payments-devs"}}
	lead := governance.Person{ID: 2, Groups: []string{"payments-leads"}}
	approver := governance.Person{ID: 3, Groups: []string{"payments-approvers"}}
	searchDev := governance.Person{ID: 4, Groups: []string{"search-devs", "payments-approvers-not"}}
	admin := governance.Person{ID: 5, Groups: []string{"admins"}, Admin: true}
	staging := governance.Target{Cluster: "pay-staging", Team: "payments", Environment: "staging"}
	prod := governance.Target{Cluster: "pay-prod", Team: "payments", Environment: "production"}
	unowned := governance.Target{Cluster: "orphan", Team: "", Environment: "staging"}
	ghost := governance.Target{Cluster: "ghost", Team: "no-such-team", Environment: "staging"}
	request := func(k approvals.Kind) governance.Act { return governance.Act{Kind: k} }
	approve := func(requester int64, missing int, leadRequired, leadApproved bool) governance.Act {
		return governance.Act{Kind: approvals.KindUpdate, Approve: true, Requesters: []int64{requester},
			Missing: missing, LeadRequired: leadRequired, LeadApproved: leadApproved}
	}

	for _, tc := range []struct {
		name   string
		teams  governance.Teams
		person governance.Person
		target governance.Target
		act    governance.Act
		refuse string // "" means allowed; else a part of the reason
	}{
		{"no teams: the global roles decide", nil, searchDev, prod, request(approvals.KindDelete), ""},
		{"no teams: even an approval by anyone", nil, dev, prod, approve(9, 1, true, false), ""},
		{"a developer updates their team's staging cluster", teams, dev, staging, request(approvals.KindUpdate), ""},
		{"a developer stops their team's staging cluster", teams, dev, staging, request(approvals.KindStop), ""},
		{"a developer restarts a server", teams, dev, staging, request(approvals.KindRestartServer), ""},
		{"a developer may not delete", teams, dev, staging, request(approvals.KindDelete), "delete requests on the payments team's clusters need a member of payments-leads"},
		{"a developer may not change production", teams, dev, prod, request(approvals.KindUpdate), "changes in production on the payments team's clusters need a member of payments-leads"},
		{"a lead deletes", teams, lead, staging, request(approvals.KindDelete), ""},
		{"a lead changes production", teams, lead, prod, request(approvals.KindStop), ""},
		{"another team's developer", teams, searchDev, staging, request(approvals.KindUpdate), "requesting changes on the payments team's clusters needs a member of payments-devs or payments-leads"},
		{"an admin of no team on a team's cluster", teams, admin, staging, request(approvals.KindUpdate), "needs a member of payments-devs"},
		{"unowned: a developer", teams, dev, unowned, request(approvals.KindUpdate), "orphan has no owning team"},
		{"unowned: an admin", teams, admin, unowned, request(approvals.KindDelete), ""},
		{"a team that is not defined is unowned", teams, dev, ghost, request(approvals.KindUpdate), "ghost has no owning team"},
		{"the team's approver approves", teams, approver, prod, approve(1, 2, false, false), ""},
		{"a lead approves", teams, lead, prod, approve(1, 1, true, false), ""},
		{"another team's approver", teams, governance.Person{ID: 6, Groups: []string{"search-approvers"}}, prod, approve(1, 1, false, false),
			"approving changes on the payments team's clusters needs a member of payments-approvers or payments-leads"},
		{"four eyes: the requester", teams, lead, prod, approve(2, 1, false, false), "four eyes"},
		{"four eyes: even on an unowned cluster", teams, admin, unowned, approve(5, 1, false, false), "four eyes"},
		{"four eyes wins over no teams? no: no teams leaves it to approvals", nil, admin, unowned, approve(5, 1, false, false), ""},
		{"team lead required: not the last approval", teams, approver, prod, approve(1, 2, true, false), ""},
		{"team lead required: the last approval must be a lead's", teams, approver, prod, approve(1, 1, true, false),
			"the last approval needs a member of payments-leads"},
		{"team lead required: a lead already approved", teams, approver, prod, approve(1, 1, true, true), ""},
		{"team lead required: the lead completes it", teams, lead, prod, approve(1, 1, true, false), ""},
		{"unowned: approvals follow the policy", teams, approver, unowned, approve(1, 1, true, false), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.teams.Allowed(tc.person, tc.target, tc.act)
			if tc.refuse == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, approvals.ErrNotPermitted) && errors.Is(err, approvals.ErrForbidden), "%v", err)
			require.Contains(t, approvals.RefusalReason(err), tc.refuse)
		})
	}
}
