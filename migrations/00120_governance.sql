-- Governance: teams own clusters (issue 16). A team is a named set of the
-- identity provider's groups; ownership comes from rules an admin sets,
-- with explicit overrides per cluster. With no team defined the portal
-- behaves as before: the global roles decide (internal/governance).

-- +goose Up
CREATE TABLE teams (
    name              text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    description       text NOT NULL DEFAULT '',
    -- members of these groups may request changes on the team's clusters
    requester_groups  text[] NOT NULL DEFAULT '{}',
    -- members of these groups may approve changes on the team's clusters
    approver_groups   text[] NOT NULL DEFAULT '{}',
    -- the team's leads: they may do what requesters and approvers do, and
    -- only they may request the kinds and environments below
    lead_groups       text[] NOT NULL DEFAULT '{}',
    lead_kinds        text[] NOT NULL DEFAULT '{delete}',
    lead_environments text[] NOT NULL DEFAULT '{production}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Ownership rules, tried in position order; the first that gives a team
-- wins. source 'tag': the value of the cluster's awsTags entry named key is
-- the team. source 'prefix': a cluster whose name starts with key belongs
-- to team.
CREATE TABLE ownership_rules (
    id         bigserial PRIMARY KEY,
    position   integer NOT NULL,
    source     text NOT NULL CHECK (source IN ('tag', 'prefix')),
    key        text NOT NULL CHECK (key <> ''),
    team       text REFERENCES teams (name) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((source = 'prefix') = (team IS NOT NULL))
);

-- Explicit owners, which beat every rule.
CREATE TABLE cluster_owners (
    cluster_uid text PRIMARY KEY,
    team        text NOT NULL REFERENCES teams (name) ON DELETE CASCADE,
    set_at      timestamptz NOT NULL DEFAULT now()
);

-- cluster_owner returns the team that owns a cluster: its override, else
-- the first ownership rule that places it, else the team the inventory
-- derived (the awsTags "team" value). '' means unowned. The team may name
-- no defined team; the Go code treats that as unowned too.
-- +goose StatementBegin
CREATE FUNCTION cluster_owner(c_uid text, c_name text, c_spec jsonb, c_team text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT o.team FROM cluster_owners o WHERE o.cluster_uid = c_uid),
        (SELECT CASE r.source
                    WHEN 'prefix' THEN r.team
                    ELSE (SELECT t->>'value' FROM jsonb_array_elements(
                              CASE WHEN jsonb_typeof(c_spec->'awsTags') = 'array' THEN c_spec->'awsTags' ELSE '[]'::jsonb END) t
                          WHERE t->>'name' = r.key AND jsonb_typeof(t->'value') = 'string' LIMIT 1)
                END
         FROM ownership_rules r
         WHERE (r.source = 'prefix' AND starts_with(c_name, r.key))
            OR (r.source = 'tag' AND EXISTS (
                    SELECT 1 FROM jsonb_array_elements(
                        CASE WHEN jsonb_typeof(c_spec->'awsTags') = 'array' THEN c_spec->'awsTags' ELSE '[]'::jsonb END) t
                    WHERE t->>'name' = r.key AND jsonb_typeof(t->'value') = 'string' AND t->>'value' <> ''))
         ORDER BY r.position, r.id
         LIMIT 1),
        c_team)
$$;
-- +goose StatementEnd

-- A policy may ask that one of the approvals come from a lead of the
-- team that owns the cluster (the permission function enforces it on the
-- approval that would complete the request).
ALTER TABLE policies ADD COLUMN team_lead_required boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE policies DROP COLUMN team_lead_required;
DROP FUNCTION cluster_owner(text, text, jsonb, text);
DROP TABLE cluster_owners;
DROP TABLE ownership_rules;
DROP TABLE teams;
