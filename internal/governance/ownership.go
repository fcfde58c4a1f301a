package governance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Rule sources.
const (
	// SourceTag: the value of the cluster's awsTags entry named Key is the
	// owning team.
	SourceTag = "tag"
	// SourcePrefix: a cluster whose name starts with Key belongs to Team.
	SourcePrefix = "prefix"
)

// Rule is one ownership rule; rules are tried in Position order.
type Rule struct {
	ID       int64  `json:"id"`
	Position int    `json:"position"`
	Source   string `json:"source"`
	Key      string `json:"key"`
	Team     string `json:"team,omitempty"` // prefix rules only
}

// String says the rule in words.
func (r Rule) String() string {
	if r.Source == SourcePrefix {
		return fmt.Sprintf("names starting with %q belong to %s", r.Key, r.Team)
	}
	return fmt.Sprintf("the awsTags %q value names the team", r.Key)
}

// RuleList returns the ownership rules in the order they are tried.
func RuleList(ctx context.Context, q Querier) ([]Rule, error) {
	rows, err := q.Query(ctx, `SELECT id, position, source, key, COALESCE(team, '') FROM ownership_rules ORDER BY position, id`)
	if err != nil {
		return nil, fmt.Errorf("governance: list rules: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Rule, error) {
		var r Rule
		err := row.Scan(&r.ID, &r.Position, &r.Source, &r.Key, &r.Team)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("governance: list rules: %w", err)
	}
	return list, nil
}

// RuleAdd appends r after the existing rules. Errors: ErrInvalid (an
// unknown source, an empty key, a prefix rule without a team),
// ErrNotFound (no such team).
func (ad *Admin) RuleAdd(ctx context.Context, a approvals.Actor, r Rule) (Rule, error) {
	r.Key, r.Team = strings.TrimSpace(r.Key), strings.TrimSpace(r.Team)
	switch {
	case r.Source != SourceTag && r.Source != SourcePrefix:
		return Rule{}, fmt.Errorf("governance: add rule: %w: the source is %q or %q", ErrInvalid, SourceTag, SourcePrefix)
	case r.Key == "":
		return Rule{}, fmt.Errorf("governance: add rule: %w: a rule needs a tag name or a name prefix", ErrInvalid)
	case r.Source == SourcePrefix && r.Team == "":
		return Rule{}, fmt.Errorf("governance: add rule: %w: a prefix rule needs a team", ErrInvalid)
	case r.Source == SourceTag:
		r.Team = ""
	}
	err := pgx.BeginFunc(ctx, ad.pool, func(tx pgx.Tx) error {
		if r.Team != "" {
			if _, err := TeamGet(ctx, tx, r.Team); err != nil {
				return err
			}
		}
		var team *string
		if r.Team != "" {
			team = &r.Team
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO ownership_rules (position, source, key, team)
			VALUES ((SELECT COALESCE(max(position), 0) + 1 FROM ownership_rules), $1, $2, $3)
			RETURNING id, position`, r.Source, r.Key, team).Scan(&r.ID, &r.Position)
		if err != nil {
			return err
		}
		return appendOwnership(ctx, tx, a, "rule", map[string]any{"before": nil, "after": r, "rule": r.String()})
	})
	if err != nil {
		return Rule{}, fmt.Errorf("governance: add rule: %w", err)
	}
	return r, nil
}

// RuleDelete removes rule id. Errors: ErrNotFound.
func (ad *Admin) RuleDelete(ctx context.Context, a approvals.Actor, id int64) error {
	err := pgx.BeginFunc(ctx, ad.pool, func(tx pgx.Tx) error {
		var r Rule
		err := tx.QueryRow(ctx, `DELETE FROM ownership_rules WHERE id = $1 RETURNING id, position, source, key, COALESCE(team, '')`, id).
			Scan(&r.ID, &r.Position, &r.Source, &r.Key, &r.Team)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return appendOwnership(ctx, tx, a, "rule", map[string]any{"before": r, "after": nil, "rule": r.String()})
	})
	if err != nil {
		return fmt.Errorf("governance: delete rule %d: %w", id, err)
	}
	return nil
}

// OwnerSet makes team the owner of cluster uid whatever the rules say;
// team "" removes the override. Errors: ErrNotFound (no such team or
// cluster).
func (ad *Admin) OwnerSet(ctx context.Context, a approvals.Actor, uid, team string) error {
	team = strings.TrimSpace(team)
	err := pgx.BeginFunc(ctx, ad.pool, func(tx pgx.Tx) error {
		c, err := inventory.ClusterGet(ctx, tx, uid)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		var before *string
		if err := tx.QueryRow(ctx, `SELECT team FROM cluster_owners WHERE cluster_uid = $1 FOR UPDATE`, uid).Scan(&before); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if team == "" {
			_, err = tx.Exec(ctx, `DELETE FROM cluster_owners WHERE cluster_uid = $1`, uid)
		} else {
			if _, err := TeamGet(ctx, tx, team); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `
				INSERT INTO cluster_owners (cluster_uid, team) VALUES ($1, $2)
				ON CONFLICT (cluster_uid) DO UPDATE SET team = EXCLUDED.team, set_at = now()`, uid, team)
		}
		if err != nil {
			return err
		}
		var after *string
		if team != "" {
			after = &team
		}
		return appendOwnership(ctx, tx, a, "override", map[string]any{
			"cluster_uid": uid, "cluster_name": c.Name, "before": before, "after": after})
	})
	if err != nil {
		return fmt.Errorf("governance: set owner of %s: %w", uid, err)
	}
	return nil
}

func appendOwnership(ctx context.Context, tx pgx.Tx, a approvals.Actor, what string, data map[string]any) error {
	data["what"] = what
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = audit.Append(ctx, tx, audit.Event{
		Actor: audit.User(fmt.Sprint(a.UserID), a.Name), Action: audit.OwnershipChanged, Origin: a.Origin,
		Subject: audit.Subject{Type: audit.SubjectTeam, ID: "ownership"}, Data: json.RawMessage(b),
	})
	return err
}

// OwnerOf returns the team that owns c (its override, the first rule that
// places it, else the inventory's team), "" when none. The team may name
// no defined team: Teams.Allowed treats that as unowned.
func OwnerOf(ctx context.Context, q Querier, c inventory.Cluster) (string, error) {
	spec, err := json.Marshal(c.Spec)
	if err != nil {
		return "", fmt.Errorf("governance: owner of %s: %w", c.Name, err)
	}
	var team string
	if err := q.QueryRow(ctx, `SELECT cluster_owner($1, $2, $3::jsonb, $4)`, c.UID, c.Name, spec, c.Team).Scan(&team); err != nil {
		return "", fmt.Errorf("governance: owner of %s: %w", c.Name, err)
	}
	return team, nil
}

// Owner is a cluster's explicit owner.
type Owner struct {
	ClusterUID, ClusterName, Team string
}

// OwnerList returns the overrides by cluster name.
func OwnerList(ctx context.Context, q Querier) ([]Owner, error) {
	rows, err := q.Query(ctx, `
		SELECT o.cluster_uid, COALESCE(c.name, o.cluster_uid), o.team
		FROM cluster_owners o LEFT JOIN clusters c ON c.uid = o.cluster_uid
		ORDER BY 2, 1`)
	if err != nil {
		return nil, fmt.Errorf("governance: list owners: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Owner, error) {
		var o Owner
		err := row.Scan(&o.ClusterUID, &o.ClusterName, &o.Team)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("governance: list owners: %w", err)
	}
	return list, nil
}
