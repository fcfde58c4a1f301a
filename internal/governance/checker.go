package governance

import (
	"context"
	"slices"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Checker is the approvals.Permissions of the governance rules: it reads
// the teams and the cluster's owner in the caller's transaction and asks
// Teams.Allowed.
type Checker struct{}

var _ approvals.Permissions = Checker{}

// MayRequest implements approvals.Permissions.
func (Checker) MayRequest(ctx context.Context, q approvals.Querier, a approvals.Actor, c inventory.Cluster, kind approvals.Kind) error {
	ts, t, err := target(ctx, q, c)
	if err != nil || len(ts) == 0 {
		return err
	}
	return ts.Allowed(PersonOf(a), t, Act{Kind: kind})
}

// MayApprove implements approvals.Permissions.
func (Checker) MayApprove(ctx context.Context, q approvals.Querier, a approvals.Actor, c inventory.Cluster, r approvals.Request, e approvals.Evaluation) error {
	ts, t, err := target(ctx, q, c)
	if err != nil || len(ts) == 0 {
		return err
	}
	act := Act{Kind: r.Kind, Approve: true, Requesters: []int64{r.Requester.ID}, Missing: e.Missing(),
		LeadRequired: e.Policy.TeamLeadRequired}
	if team, ok := ts[t.Team]; ok {
		act.LeadApproved = slices.ContainsFunc(e.Approvals, func(ap approvals.Approval) bool {
			return Person{Groups: ap.Groups}.inAny(team.LeadGroups)
		})
	}
	return ts.Allowed(PersonOf(a), t, act)
}

// target loads the teams and, when there are any, where c stands.
func target(ctx context.Context, q approvals.Querier, c inventory.Cluster) (Teams, Target, error) {
	ts, err := LoadTeams(ctx, q)
	if err != nil || len(ts) == 0 {
		return ts, Target{}, err
	}
	owner, err := OwnerOf(ctx, q, c)
	if err != nil {
		return nil, Target{}, err
	}
	return ts, Target{Cluster: c.Name, Team: owner, Environment: c.Environment}, nil
}
