package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// PolicySettings are a policy's fields an admin edits in the portal.
type PolicySettings struct {
	Description       string     `json:"description"`
	Teams             []string   `json:"teams"` // defined teams' names; empty: any team
	Environments      []string   `json:"environments"`
	Kinds             []Kind     `json:"kinds"`
	Risks             []RiskCode `json:"risks"`
	ApprovalsRequired int        `json:"approvals_required"`
	ApproverGroups    []string   `json:"approver_groups"`
	// TeamLeadRequired: one of the approvals must come from a lead of the
	// team that owns the cluster (internal/governance).
	TeamLeadRequired bool `json:"team_lead_required"`
	Enabled          bool `json:"enabled"`
	// ApprovalMaxAge is how long an approval counts (Policy): at least a
	// second; zero means DefaultApprovalMaxAge. The audit log writes it as
	// Go writes a duration, "168h0m0s".
	ApprovalMaxAge time.Duration `json:"-"`
}

// DefaultApprovalMaxAge is how long an approval counts unless an admin
// sets another age (the column's default).
const DefaultApprovalMaxAge = 7 * 24 * time.Hour

// MarshalJSON writes s for the audit log, ApprovalMaxAge as a duration
// people read.
func (s PolicySettings) MarshalJSON() ([]byte, error) {
	type plain PolicySettings
	return json.Marshal(struct {
		plain
		ApprovalMaxAge string `json:"approval_max_age"`
	}{plain(s), s.ApprovalMaxAge.String()})
}

// PolicyAdmin is a policy with the settings only the admin pages show.
type PolicyAdmin struct {
	Policy
	UpdatedAt time.Time
}

// Settings returns p's editable fields.
func (p PolicyAdmin) Settings() PolicySettings {
	return PolicySettings{Description: p.Description, Teams: p.Teams, Environments: p.Environments, Kinds: p.Kinds, Risks: p.Risks,
		ApprovalsRequired: p.ApprovalsRequired, ApproverGroups: p.ApproverGroups, TeamLeadRequired: p.TeamLeadRequired, Enabled: p.Enabled,
		ApprovalMaxAge: p.ApprovalMaxAge}
}

// PolicyAdminGet returns policy id with its admin settings. Errors:
// ErrNotFound.
func PolicyAdminGet(ctx context.Context, q Querier, id int64) (PolicyAdmin, error) {
	var pa PolicyAdmin
	var kinds, risks []string
	err := q.QueryRow(ctx, `SELECT `+policyColumns+`, updated_at FROM policies WHERE id = $1`, id).Scan(
		&pa.ID, &pa.Name, &pa.Description, &pa.Teams, &pa.Environments, &kinds, &risks, &pa.ApprovalsRequired, &pa.ApproverGroups,
		&pa.TeamLeadRequired, &pa.Enabled, &pa.ApprovalMaxAge, &pa.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return PolicyAdmin{}, fmt.Errorf("approvals: policy %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return PolicyAdmin{}, fmt.Errorf("approvals: policy %d: %w", id, err)
	}
	for _, k := range kinds {
		pa.Kinds = append(pa.Kinds, Kind(k))
	}
	for _, r := range risks {
		pa.Risks = append(pa.Risks, RiskCode(r))
	}
	return pa, nil
}

// normalize checks s: 1 to 10 approvals, at least one approver group,
// known kinds and risks, approvals that count for a second at least (zero:
// DefaultApprovalMaxAge); lists trimmed and without repeats.
func (s *PolicySettings) normalize(approverGroups []string) error {
	clean := func(in []string) []string {
		out := []string{}
		for _, x := range in {
			if x = strings.TrimSpace(x); x != "" && !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
		return out
	}
	s.Description = strings.TrimSpace(s.Description)
	s.Environments, s.ApproverGroups = clean(s.Environments), clean(s.ApproverGroups)
	s.Teams = clean(s.Teams)
	if s.ApprovalMaxAge == 0 {
		s.ApprovalMaxAge = DefaultApprovalMaxAge
	}
	switch {
	case s.ApprovalsRequired < 1 || s.ApprovalsRequired > 10:
		return fmt.Errorf("%w: Approvals needed: a policy needs between 1 and 10 approvals", ErrInvalid)
	case len(s.ApproverGroups) == 0:
		return fmt.Errorf("%w: Approver groups: a policy needs at least one approver group", ErrInvalid)
	case s.ApprovalMaxAge < time.Second:
		return fmt.Errorf("%w: approvals expire after: give an age of one second or more, such as 7d or 168h", ErrInvalid)
	}
	for _, k := range s.Kinds {
		if !k.Supported() {
			return fmt.Errorf("%w: Kinds it matches: %q is not a kind of request", ErrInvalid, k)
		}
	}
	for _, r := range s.Risks {
		if !slices.Contains(RiskCodes(), r) {
			return fmt.Errorf("%w: Risks it matches: %q is not a risk hint", ErrInvalid, r)
		}
	}
	if approverGroups != nil {
		for _, g := range s.ApproverGroups {
			if !slices.Contains(approverGroups, g) {
				return fmt.Errorf("%w: Approver groups: group %s does not grant the approver role (PORTAL_APPROVER_GROUPS), so its members could not approve", ErrInvalid, g)
			}
		}
	}
	return nil
}

// PolicyEffect is how a policy change moves one open request.
type PolicyEffect struct {
	RequestID   int64
	ClusterName string
	Kind        Kind
	// Before and After name the policy that applies and the approvals it
	// asks for; a name is "" when none applies.
	BeforePolicy, AfterPolicy string
	BeforeNeeded, AfterNeeded int
	// Given is how many approvals of the current revision count (those
	// younger than the policy's ApprovalMaxAge); BeforeGiven as many
	// before the change.
	Given, BeforeGiven int
}

// Met reports whether the approvals given meet the policy after the
// change.
func (e PolicyEffect) Met() bool { return e.AfterPolicy != "" && e.Given >= e.AfterNeeded }

// openPolicies returns, for every pending request, the policy that applies
// now and the approvals that count (as Evaluate counts them, unexpired),
// in request id order.
func openPolicies(ctx context.Context, q Querier) (map[int64]PolicyEffect, error) {
	rows, err := q.Query(ctx, `
		SELECT r.id, r.cluster_name, r.kind, COALESCE(p.name, ''), COALESCE(p.approvals_required, 0),
		       (SELECT count(*) FROM approvals d WHERE `+countingApprovalSQL+`)
		FROM change_requests r
		JOIN request_revisions v ON v.request_id = r.id AND v.revision = r.revision
		LEFT JOIN LATERAL `+requestPolicyForSQL+` p ON true
		WHERE r.state = 'pending'
		ORDER BY r.id`)
	if err != nil {
		return nil, err
	}
	out := map[int64]PolicyEffect{}
	var e PolicyEffect
	_, err = pgx.ForEachRow(rows, []any{&e.RequestID, &e.ClusterName, &e.Kind, &e.AfterPolicy, &e.AfterNeeded, &e.Given}, func() error {
		out[e.RequestID] = e
		return nil
	})
	return out, err
}

// policyEffects compares the open requests' policies before and after a
// change made in tx.
func policyEffects(before, after map[int64]PolicyEffect) []PolicyEffect {
	var out []PolicyEffect
	for id, a := range after {
		b := before[id]
		if a.AfterPolicy == b.AfterPolicy && a.AfterNeeded == b.AfterNeeded && a.Given == b.Given {
			continue
		}
		a.BeforePolicy, a.BeforeNeeded, a.BeforeGiven = b.AfterPolicy, b.AfterNeeded, b.Given
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y PolicyEffect) int { return int(x.RequestID - y.RequestID) })
	return out
}

func policyUpdate(ctx context.Context, tx pgx.Tx, id int64, s PolicySettings) error {
	kinds := make([]string, len(s.Kinds))
	for i, k := range s.Kinds {
		kinds[i] = string(k)
	}
	risks := make([]string, len(s.Risks))
	for i, r := range s.Risks {
		risks[i] = string(r)
	}
	tag, err := tx.Exec(ctx, `
		UPDATE policies SET description = $2, environments = $3, kinds = $4, risks = $5, approvals_required = $6,
		       approver_groups = $7, team_lead_required = $8, enabled = $9, approval_max_age = $10, updated_at = now(),
		       teams = $11
		WHERE id = $1`, id, s.Description, s.Environments, kinds, risks, s.ApprovalsRequired, s.ApproverGroups,
		s.TeamLeadRequired, s.Enabled, s.ApprovalMaxAge, s.Teams)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// policyTeamsDefined returns ErrInvalid naming the first of teams that is
// no defined team (internal/governance owns the teams).
func policyTeamsDefined(ctx context.Context, q Querier, teams []string) error {
	var unknown []string
	err := q.QueryRow(ctx, `SELECT ARRAY(SELECT u FROM unnest($1::text[]) WITH ORDINALITY x (u, i)
		WHERE NOT EXISTS (SELECT 1 FROM teams t WHERE t.name = u) ORDER BY i)`, teams).Scan(&unknown)
	if err != nil {
		return err
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%w: Teams: there is no team named %q (define it under Admin → Teams first)", ErrInvalid, unknown[0])
	}
	return nil
}

// PolicyPreview returns the open requests that saving s as policy id would
// move (another policy, another number of approvals needed, or approvals
// that start or stop counting as the age they count for changes), without saving:
// the change is made in a transaction that is rolled back. Errors:
// ErrInvalid, ErrNotFound.
func (s *Service) PolicyPreview(ctx context.Context, id int64, draft PolicySettings) ([]PolicyEffect, error) {
	if err := draft.normalize(nil); err != nil {
		return nil, fmt.Errorf("approvals: preview policy %d: %w", id, err)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := policyTeamsDefined(ctx, tx, draft.Teams); err != nil {
		return nil, fmt.Errorf("approvals: preview policy %d: %w", id, err)
	}
	before, err := openPolicies(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("approvals: preview policy %d: %w", id, err)
	}
	if err := policyUpdate(ctx, tx, id, draft); err != nil {
		return nil, fmt.Errorf("approvals: preview policy %d: %w", id, err)
	}
	after, err := openPolicies(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("approvals: preview policy %d: %w", id, err)
	}
	return policyEffects(before, after), nil
}

// PolicySave stores s as policy id, with a policy.updated audit event
// holding the settings before and after and the open requests it moved.
// Requests already approved are not touched: their approvals were given
// under the old policy. Open requests are re-evaluated: one whose
// approvals now meet the policy is approved (request.policy_met, and
// Config.OnApproved as for an approval); the others simply need what the
// policy now asks, which their page shows. approverGroups are the groups
// that grant the approver role: a policy naming another group is refused
// (ErrInvalid). Errors: ErrInvalid, ErrNotFound.
func (s *Service) PolicySave(ctx context.Context, a Actor, id int64, in PolicySettings, approverGroups []string) ([]PolicyEffect, error) {
	if err := in.normalize(approverGroups); err != nil {
		return nil, fmt.Errorf("approvals: save policy %d: %w", id, err)
	}
	var effects []PolicyEffect
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One policy change at a time: the effects are computed against a
		// table nobody else changes meanwhile.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('clusterdesk.policies', 0))"); err != nil {
			return err
		}
		old, err := PolicyAdminGet(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := policyTeamsDefined(ctx, tx, in.Teams); err != nil {
			return err
		}
		before, err := openPolicies(ctx, tx)
		if err != nil {
			return err
		}
		if err := policyUpdate(ctx, tx, id, in); err != nil {
			return err
		}
		after, err := openPolicies(ctx, tx)
		if err != nil {
			return err
		}
		effects = policyEffects(before, after)
		moved := make([]int64, 0, len(effects))
		for _, e := range effects {
			moved = append(moved, e.RequestID)
		}
		data, err := json.Marshal(map[string]any{"name": old.Name, "before": old.Settings(), "after": in, "open_requests_moved": moved})
		if err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, audit.Event{
			Actor: a.audit(), Action: audit.PolicyUpdated, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectPolicy, ID: strconv.FormatInt(id, 10)}, Data: json.RawMessage(data),
		}); err != nil {
			return err
		}
		for _, e := range effects {
			if e.Met() {
				if err := s.policyMet(ctx, tx, a, e, old.Name); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("approvals: save policy %d: %w", id, err)
	}
	return effects, nil
}

// policyMet approves request e.RequestID, whose approvals meet its policy
// since the change of policy name.
func (s *Service) policyMet(ctx context.Context, tx pgx.Tx, a Actor, e PolicyEffect, name string) error {
	if _, err := tx.Exec(ctx, "SELECT 1 FROM change_requests WHERE id = $1 FOR UPDATE", e.RequestID); err != nil {
		return err
	}
	r, err := Get(ctx, tx, e.RequestID)
	if err != nil {
		return err
	}
	if r.State != StatePending {
		return nil
	}
	if err := requestSetState(ctx, tx, &r, StateApproved); err != nil {
		return err
	}
	if s.onApproved != nil {
		if err := s.onApproved(ctx, tx, r); err != nil {
			return fmt.Errorf("on approved: %w", err)
		}
	}
	_, err = audit.Append(ctx, tx, audit.Event{
		Actor: a.audit(), Action: audit.RequestPolicyMet, Origin: a.Origin,
		Subject: audit.Subject{Type: audit.SubjectRequest, ID: subjectID(r.ID)},
		Data:    map[string]any{"policy": name, "approvals": e.Given, "needed": e.AfterNeeded, "revision": r.Revision.Number},
	})
	return err
}

// PolicyChangedSince returns when policy id was last changed in the
// portal, if after t: a request filed before says its policy changed.
func PolicyChangedSince(ctx context.Context, q Querier, id int64, t time.Time) (time.Time, bool, error) {
	var at time.Time
	err := q.QueryRow(ctx, `SELECT updated_at FROM policies WHERE id = $1`, id).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("approvals: policy %d: %w", id, err)
	}
	return at, at.After(t), nil
}

// policyNameRule is what a policy's name may be.
var policyNameRule = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// PolicyCreate adds a policy named name, disabled, with one approval from
// approverGroups (the groups that grant the approver role) and matching
// every request: nothing changes until an admin sets what it matches and
// enables it on its page, whose preview and save re-evaluate the open
// requests as for any policy change. Audited as policy.created. Errors:
// ErrInvalid (a name that is not lower-case letters, digits and dashes, or
// taken; no approver groups), each naming the field.
func (s *Service) PolicyCreate(ctx context.Context, a Actor, name, description string, approverGroups []string) (int64, error) {
	name, description = strings.TrimSpace(name), strings.TrimSpace(description)
	if !policyNameRule.MatchString(name) {
		return 0, fmt.Errorf("approvals: create policy: %w: Name: use 1 to 63 lower-case letters, digits and dashes, starting with a letter or digit (for example analytics-production)", ErrInvalid)
	}
	if len(approverGroups) == 0 {
		return 0, fmt.Errorf("approvals: create policy: %w: Approver groups: no group grants the approver role (PORTAL_APPROVER_GROUPS)", ErrInvalid)
	}
	st := PolicySettings{Description: description, Teams: []string{}, Environments: []string{}, Kinds: []Kind{}, Risks: []RiskCode{},
		ApprovalsRequired: 1, ApproverGroups: approverGroups, ApprovalMaxAge: DefaultApprovalMaxAge}
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO policies (name, description, approvals_required, approver_groups, enabled)
			VALUES ($1, $2, $3, $4, false) ON CONFLICT (name) DO NOTHING RETURNING id`,
			name, st.Description, st.ApprovalsRequired, st.ApproverGroups).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: Name: a policy named %q exists already", ErrInvalid, name)
		}
		if err != nil {
			return err
		}
		data, err := json.Marshal(map[string]any{"name": name, "before": nil, "after": st})
		if err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, audit.Event{
			Actor: a.audit(), Action: audit.PolicyCreated, Origin: a.Origin,
			Subject: audit.Subject{Type: audit.SubjectPolicy, ID: strconv.FormatInt(id, 10)}, Data: json.RawMessage(data),
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("approvals: create policy: %w", err)
	}
	return id, nil
}
