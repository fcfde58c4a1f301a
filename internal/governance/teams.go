package governance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// Errors.
var (
	// ErrNotFound: no such team, rule or override.
	ErrNotFound = errors.New("governance: not found")
	// ErrInvalid: the input is wrong (a team name, an empty rule).
	ErrInvalid = errors.New("governance: invalid input")
)

// Team is a named set of the identity provider's groups.
type Team struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// RequesterGroups may request changes on the team's clusters.
	RequesterGroups []string `json:"requester_groups"`
	// ApproverGroups may approve them (they also need the approver role
	// and a group of the request's policy).
	ApproverGroups []string `json:"approver_groups"`
	// LeadGroups may do both, and only they may request LeadKinds or
	// changes in LeadEnvironments.
	LeadGroups       []string `json:"lead_groups"`
	LeadKinds        []string `json:"lead_kinds"`
	LeadEnvironments []string `json:"lead_environments"`
}

var teamName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// normalize trims and de-duplicates the lists and checks the name.
func (t *Team) normalize() error {
	t.Name = strings.TrimSpace(t.Name)
	if !teamName.MatchString(t.Name) {
		return fmt.Errorf("%w: a team name is lower-case letters, digits and dashes (up to 63), like payments or data-platform", ErrInvalid)
	}
	t.Description = strings.TrimSpace(t.Description)
	for _, l := range []*[]string{&t.RequesterGroups, &t.ApproverGroups, &t.LeadGroups, &t.LeadKinds, &t.LeadEnvironments} {
		*l = cleanList(*l)
	}
	for _, k := range t.LeadKinds {
		if !approvals.Kind(k).Supported() {
			return fmt.Errorf("%w: %q is not a kind of request", ErrInvalid, k)
		}
	}
	return nil
}

func cleanList(in []string) []string {
	out := []string{}
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Querier runs queries: a pool or a transaction.
type Querier = approvals.Querier

const teamColumns = `name, description, requester_groups, approver_groups, lead_groups, lead_kinds, lead_environments`

func scanTeam(row pgx.Row) (Team, error) {
	var t Team
	err := row.Scan(&t.Name, &t.Description, &t.RequesterGroups, &t.ApproverGroups, &t.LeadGroups, &t.LeadKinds, &t.LeadEnvironments)
	return t, err
}

// TeamList returns every team in name order.
func TeamList(ctx context.Context, q Querier) ([]Team, error) {
	rows, err := q.Query(ctx, "SELECT "+teamColumns+" FROM teams ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("governance: list teams: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Team, error) { return scanTeam(row) })
	if err != nil {
		return nil, fmt.Errorf("governance: list teams: %w", err)
	}
	return list, nil
}

// LoadTeams returns the teams by name, for Allowed.
func LoadTeams(ctx context.Context, q Querier) (Teams, error) {
	list, err := TeamList(ctx, q)
	if err != nil {
		return nil, err
	}
	ts := make(Teams, len(list))
	for _, t := range list {
		ts[t.Name] = t
	}
	return ts, nil
}

// TeamGet returns the team named name. Errors: ErrNotFound.
func TeamGet(ctx context.Context, q Querier, name string) (Team, error) {
	t, err := scanTeam(q.QueryRow(ctx, "SELECT "+teamColumns+" FROM teams WHERE name = $1", name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Team{}, fmt.Errorf("governance: team %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Team{}, fmt.Errorf("governance: team %q: %w", name, err)
	}
	return t, nil
}

// Admin runs the administrative use cases: each is one transaction that
// changes the rules and appends an audit event with the state before and
// after.
type Admin struct {
	pool *pgxpool.Pool
}

// NewAdmin returns an Admin on pool.
func NewAdmin(pool *pgxpool.Pool) *Admin { return &Admin{pool: pool} }

// TeamSave creates the team t.Name or replaces its groups and lists.
// LeadKinds and LeadEnvironments nil mean the defaults (delete;
// production). Errors: ErrInvalid.
func (ad *Admin) TeamSave(ctx context.Context, a approvals.Actor, t Team) (Team, error) {
	if t.LeadKinds == nil {
		t.LeadKinds = []string{string(approvals.KindDelete)}
	}
	if t.LeadEnvironments == nil {
		t.LeadEnvironments = []string{approvals.ProductionEnvironment}
	}
	if err := t.normalize(); err != nil {
		return Team{}, err
	}
	err := pgx.BeginFunc(ctx, ad.pool, func(tx pgx.Tx) error {
		before, err := scanTeam(tx.QueryRow(ctx, "SELECT "+teamColumns+" FROM teams WHERE name = $1 FOR UPDATE", t.Name))
		existed := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO teams (name, description, requester_groups, approver_groups, lead_groups, lead_kinds, lead_environments)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description,
			    requester_groups = EXCLUDED.requester_groups, approver_groups = EXCLUDED.approver_groups,
			    lead_groups = EXCLUDED.lead_groups, lead_kinds = EXCLUDED.lead_kinds,
			    lead_environments = EXCLUDED.lead_environments, updated_at = now()`,
			t.Name, t.Description, t.RequesterGroups, t.ApproverGroups, t.LeadGroups, t.LeadKinds, t.LeadEnvironments)
		if err != nil {
			return err
		}
		action, data := audit.TeamCreated, map[string]any{"after": t}
		if existed {
			action, data = audit.TeamUpdated, map[string]any{"before": before, "after": t}
		}
		return appendEvent(ctx, tx, a, action, t.Name, data)
	})
	if err != nil {
		return Team{}, fmt.Errorf("governance: save team %q: %w", t.Name, err)
	}
	return t, nil
}

// TeamDelete removes a team, with its prefix rules and overrides: its
// clusters become unowned unless another rule places them. Errors:
// ErrNotFound.
func (ad *Admin) TeamDelete(ctx context.Context, a approvals.Actor, name string) error {
	err := pgx.BeginFunc(ctx, ad.pool, func(tx pgx.Tx) error {
		before, err := scanTeam(tx.QueryRow(ctx, "DELETE FROM teams WHERE name = $1 RETURNING "+teamColumns, name))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return appendEvent(ctx, tx, a, audit.TeamDeleted, name, map[string]any{"before": before})
	})
	if err != nil {
		return fmt.Errorf("governance: delete team %q: %w", name, err)
	}
	return nil
}

func appendEvent(ctx context.Context, tx pgx.Tx, a approvals.Actor, action audit.Action, team string, data any) error {
	// A round trip through JSON gives the audit log plain values.
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = audit.Append(ctx, tx, audit.Event{
		Actor: audit.User(strconv.FormatInt(a.UserID, 10), a.Name), Action: action, Origin: a.Origin,
		Subject: audit.Subject{Type: audit.SubjectTeam, ID: team}, Data: json.RawMessage(b),
	})
	return err
}

// MemberOf returns the names of the teams in ts that groups belong to (any
// of a team's requester, approver or lead groups), in ts's order: the
// teams of "My clusters".
func MemberOf(ts []Team, groups []string) []string {
	out := []string{}
	p := Person{Groups: groups}
	for _, t := range ts {
		if p.inAny(t.RequesterGroups) || p.inAny(t.ApproverGroups) || p.inAny(t.LeadGroups) {
			out = append(out, t.Name)
		}
	}
	return out
}

// Defined reports whether any team exists: without one the global roles
// decide alone and the pages offer no team filter.
func Defined(ctx context.Context, q Querier) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM teams)").Scan(&ok); err != nil {
		return false, fmt.Errorf("governance: teams defined: %w", err)
	}
	return ok, nil
}
