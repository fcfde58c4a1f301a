package approvals

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Policy says how many approvals, from which groups, a request needs. The
// policies live in PostgreSQL (seeded by the migration; an admin page comes
// later).
//
// A policy matches a request when each of its non-empty lists matches:
// Teams contains the team that owns the request's cluster (SQL function
// request_team; internal/governance), Environments contains one of the
// request's environments, Kinds contains its kind, Risks contains one of
// its risk hints. Empty lists match anything (Teams: unowned clusters
// too). When several match, the strictest applies: the most approvals,
// then the most specific (most non-empty lists), then the lowest id. Only
// that one policy applies: its groups are the approver groups. The seeded
// rules:
//
//	default     any request                       1 approval from approvers
//	production  environment production            2 from approvers
//	delete      kind delete                       2 from approvers
//	scale-down  risk hint scale_down              2 from approvers
//	hard-update risk hint hard_update             2 from approvers
//
// (hard-update comes from migration 00070: a hard update takes the
// cluster down, like a scale-down shrinks it.)
//
// When no enabled policy matches, nobody may approve (ErrNoPolicy).
//
// A person may decide under a policy only when they hold the approver role
// and are in one of its ApproverGroups (Eligible). PolicyGroupsOutside
// finds the groups a policy names that grant no approver role.
type Policy struct {
	ID                int64
	Name              string
	Description       string
	Teams             []string
	Environments      []string
	Kinds             []Kind
	Risks             []RiskCode
	ApprovalsRequired int
	ApproverGroups    []string
	// TeamLeadRequired: one of the approvals must come from a lead of the
	// team that owns the cluster (internal/governance).
	TeamLeadRequired bool
	Enabled          bool
	// ApprovalMaxAge is how long an approval counts, from when it was
	// given or renewed, until the change is sent (seven days unless an
	// admin sets another; always positive).
	ApprovalMaxAge time.Duration
}

// Eligible returns nil when a may approve or reject requests under p: a
// holds the approver role (Actor.Approver, from PORTAL_APPROVER_GROUPS)
// and is in at least one of p.ApproverGroups. Otherwise it returns
// ErrNoApproverRole or ErrNotEligible. It is the one rule behind Approve,
// Reject, WhatItTakes (the approve button) and ListAwaiting (the approvals
// queue); four-eyes, the request's state and earlier decisions are
// checked around it.
func (p Policy) Eligible(a Actor) error {
	if !a.Approver {
		return ErrNoApproverRole
	}
	if !slices.ContainsFunc(a.approvingGroups(), func(g string) bool { return slices.Contains(p.ApproverGroups, g) }) {
		return fmt.Errorf("%w: policy %q asks for a member of %s", ErrNotEligible, p.Name, strings.Join(p.ApproverGroups, ", "))
	}
	return nil
}

// PolicyGroup is an approver group that a policy names.
type PolicyGroup struct {
	PolicyID int64
	Policy   string
	Enabled  bool
	Group    string
}

// PolicyGroupsOutside returns, in policy id then group order, each approver
// group of a policy (enabled or not) that is not among approverGroups, the
// groups that grant the approver role. Such a group alone lets nobody
// approve: its members also need the role. `portal serve` logs them at
// start-up.
func PolicyGroupsOutside(ctx context.Context, q Querier, approverGroups []string) ([]PolicyGroup, error) {
	policies, err := PolicyList(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []PolicyGroup
	for _, p := range policies {
		for _, g := range p.ApproverGroups {
			if !slices.Contains(approverGroups, g) {
				out = append(out, PolicyGroup{PolicyID: p.ID, Policy: p.Name, Enabled: p.Enabled, Group: g})
			}
		}
	}
	return out, nil
}

// PolicySubject is what policies match on.
type PolicySubject struct {
	// Team owns the request's cluster; "" when no defined team does.
	Team         string
	Kind         Kind
	Environments []string
	Risks        []RiskCode
}

// subject returns what policies match for revision v of a request of kind
// on a cluster of team.
func subject(team string, kind Kind, v Revision) PolicySubject {
	return PolicySubject{Team: team, Kind: kind, Environments: v.Environments, Risks: v.RiskCodes()}
}

const policyColumns = `id, name, description, teams, environments, kinds, risks, approvals_required, approver_groups,
	team_lead_required, enabled, approval_max_age`

// requestPolicyForSQL is the policy of a request r (change_requests) at
// its revision v (request_revisions), as a subquery to join LATERAL:
// policy_for with the request's team (request_team).
const requestPolicyForSQL = `(SELECT p.* FROM request_team(r.cluster_uid, r.cluster_name, v.proposed_spec) rt,
		policy_for(v.environments, r.kind, v.risks, rt.team) p)`

// requestTeam returns the team that owns the cluster of a request (uid
// "" for a create, with the proposed spec), "" when no defined team does
// (SQL function request_team).
func requestTeam(ctx context.Context, q Querier, uid, name string, proposed *cloudapi.ClusterSpec) (string, error) {
	var spec any
	if proposed != nil {
		spec = proposed
	}
	var team string
	if err := q.QueryRow(ctx, `SELECT team FROM request_team(nullif($1, ''), $2, $3::jsonb)`, uid, name, spec).Scan(&team); err != nil {
		return "", fmt.Errorf("approvals: team of %s: %w", name, err)
	}
	return team, nil
}

// PolicyFor returns the policy that applies to s (see Policy). Errors:
// ErrNoPolicy.
func PolicyFor(ctx context.Context, q Querier, s PolicySubject) (Policy, error) {
	risks := make([]string, len(s.Risks))
	for i, r := range s.Risks {
		risks[i] = string(r)
	}
	p, err := scanPolicy(q.QueryRow(ctx, "SELECT "+policyColumns+" FROM policy_for($1, $2, $3, $4)",
		s.Environments, string(s.Kind), risks, s.Team))
	if errors.Is(err, pgx.ErrNoRows) {
		return Policy{}, fmt.Errorf("approvals: policy for %s in %v: %w", s.Kind, s.Environments, ErrNoPolicy)
	}
	if err != nil {
		return Policy{}, fmt.Errorf("approvals: policy for %s: %w", s.Kind, err)
	}
	return p, nil
}

// PolicyList returns every policy, enabled or not, in id order.
func PolicyList(ctx context.Context, q Querier) ([]Policy, error) {
	rows, err := q.Query(ctx, "SELECT "+policyColumns+" FROM policies ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("approvals: list policies: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Policy, error) { return scanPolicy(row) })
	if err != nil {
		return nil, fmt.Errorf("approvals: list policies: %w", err)
	}
	return list, nil
}

func scanPolicy(row pgx.Row) (Policy, error) {
	var (
		p            Policy
		kinds, risks []string
	)
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.Teams, &p.Environments, &kinds, &risks,
		&p.ApprovalsRequired, &p.ApproverGroups, &p.TeamLeadRequired, &p.Enabled, &p.ApprovalMaxAge)
	for _, k := range kinds {
		p.Kinds = append(p.Kinds, Kind(k))
	}
	for _, r := range risks {
		p.Risks = append(p.Risks, RiskCode(r))
	}
	return p, err
}

// Evaluation is where a request stands with its policy.
type Evaluation struct {
	Policy Policy
	// Approvals are those that count: approvals of the current revision,
	// its diff hash and its base resource version, given or renewed
	// within the policy's ApprovalMaxAge, oldest first.
	Approvals []Approval
	// Expired are the approvals of the current revision that are older
	// than the policy's ApprovalMaxAge: they no longer count, and their
	// approvers may renew them (Approve).
	Expired []Approval
	// ExpiresAt is when the first of Approvals stops counting; zero
	// without approvals.
	ExpiresAt time.Time
	// Rejection is the decision that rejected the request, if any.
	Rejection *Approval
}

// count adds approval a of the current revision as it stands at now: to
// Approvals while it counts, else to Expired.
func (e *Evaluation) count(a Approval, now time.Time) {
	at := a.ExpiresAt(e.Policy)
	if now.After(at) {
		e.Expired = append(e.Expired, a)
		return
	}
	e.Approvals = append(e.Approvals, a)
	if e.ExpiresAt.IsZero() || at.Before(e.ExpiresAt) {
		e.ExpiresAt = at
	}
}

// ExpiredFor returns user id's approval of the current revision when it
// no longer counts because it expired, else nil.
func (e Evaluation) ExpiredFor(id int64) *Approval {
	i := slices.IndexFunc(e.Expired, func(a Approval) bool { return a.Approver.ID == id })
	if i < 0 {
		return nil
	}
	return &e.Expired[i]
}

// Needed returns how many approvals the policy asks for.
func (e Evaluation) Needed() int { return e.Policy.ApprovalsRequired }

// Given returns how many approvals count.
func (e Evaluation) Given() int { return len(e.Approvals) }

// Missing returns how many more approvals are needed (zero when met).
func (e Evaluation) Missing() int { return max(e.Needed()-e.Given(), 0) }

// Complete reports whether the policy is met.
func (e Evaluation) Complete() bool { return e.Missing() == 0 }

// ApprovedBy reports whether user id's approval counts.
func (e Evaluation) ApprovedBy(id int64) bool {
	return slices.ContainsFunc(e.Approvals, func(a Approval) bool { return a.Approver.ID == id })
}

// Evaluate returns which policy applies to request id, how many approvals
// it needs from which groups, and whose approvals count. Errors:
// ErrNotFound, ErrNoPolicy.
func Evaluate(ctx context.Context, q Querier, id int64) (Evaluation, error) {
	r, err := Get(ctx, q, id)
	if err != nil {
		return Evaluation{}, err
	}
	return evaluate(ctx, q, r)
}

// requestPolicySQL selects the policy of a request's current revision from
// what was stored with it (kind, environments, risk codes), as the
// approvals queue does.
const requestPolicySQL = `
	SELECT p.id, p.name, p.description, p.teams, p.environments, p.kinds, p.risks, p.approvals_required,
	       p.approver_groups, p.team_lead_required, p.enabled, p.approval_max_age
	FROM change_requests r
	JOIN request_revisions v ON v.request_id = r.id AND v.revision = r.revision
	CROSS JOIN LATERAL ` + requestPolicyForSQL + ` p
	WHERE r.id = $1`

func evaluate(ctx context.Context, q Querier, r Request) (Evaluation, error) {
	p, err := scanPolicy(q.QueryRow(ctx, requestPolicySQL, r.ID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Evaluation{}, fmt.Errorf("approvals: policy for request %d: %w", r.ID, ErrNoPolicy)
	}
	if err != nil {
		return Evaluation{}, fmt.Errorf("approvals: policy for request %d: %w", r.ID, err)
	}
	decisions, err := decisionList(ctx, q, r.ID, r.Revision.Number)
	if err != nil {
		return Evaluation{}, fmt.Errorf("approvals: evaluate request %d: %w", r.ID, err)
	}
	e := Evaluation{Policy: p}
	now := time.Now()
	for _, d := range decisions {
		switch {
		case d.Decision == DecisionReject:
			e.Rejection = &d
		case d.boundTo(r.Revision):
			e.count(d, now)
		}
	}
	return e, nil
}
