-- Issue 16: a policy matches requests by team too (the team that owns the
-- request's cluster), and a change window may cross midnight (22:00–02:00).
--
-- Numbered 00133: goose here runs no migration older than the newest one
-- applied (no out-of-order option), and 00132 is approval expiry's.

-- +goose Up
-- The teams a policy matches; empty: any team (and unowned clusters).
ALTER TABLE policies ADD COLUMN teams text[] NOT NULL DEFAULT '{}';

-- request_team returns the team that owns a request's cluster, for the
-- policy that matches it and for the approvals queue: for a request on an
-- existing cluster its owner (cluster_owner); for a create, what the
-- ownership rules say of the name and the proposed spec, else its awsTags
-- "team" value (as the inventory derives a team). '' when that is no
-- defined team, as the permission function treats it (unowned). It is a
-- one-row set so that PostgreSQL inlines it into the query that calls it
-- (FROM request_team(…) rt): a scalar SQL function with sub-selects is
-- run apart on every row, ten times slower in the approvals queue.
-- +goose StatementBegin
CREATE FUNCTION request_team(r_cluster_uid text, r_cluster_name text, r_proposed_spec jsonb)
RETURNS TABLE (team text) LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM teams) THEN '' ELSE COALESCE(
        (SELECT t.name FROM teams t WHERE t.name = CASE WHEN r_cluster_uid IS NULL
            THEN cluster_owner(NULL, r_cluster_name, COALESCE(r_proposed_spec, '{}'),
                     COALESCE(jsonb_path_query_first(r_proposed_spec, '$.awsTags[*] ? (@.name == "team").value') #>> '{}', ''))
            ELSE (SELECT cluster_owner(c.uid, c.name, c.spec, c.team) FROM clusters c WHERE c.uid = r_cluster_uid) END),
        '') END
$$;
-- +goose StatementEnd

-- policy_for (migration 00031) with the request's team: a policy whose
-- teams are not empty matches only requests of one of them, and its teams
-- count towards how specific it is.
DROP FUNCTION policy_for(text[], text, text[]);
-- +goose StatementBegin
CREATE FUNCTION policy_for(request_environments text[], request_kind text, request_risks text[], request_team text)
RETURNS SETOF policies LANGUAGE sql STABLE AS $$
    SELECT p.* FROM policies p
    WHERE p.enabled
      AND (cardinality(p.teams) = 0 OR request_team = ANY (p.teams))
      AND (cardinality(p.environments) = 0 OR p.environments && request_environments)
      AND (cardinality(p.kinds) = 0 OR request_kind = ANY (p.kinds))
      AND (cardinality(p.risks) = 0 OR p.risks && request_risks)
    ORDER BY p.approvals_required DESC,
             (cardinality(p.teams) > 0)::int + (cardinality(p.environments) > 0)::int
               + (cardinality(p.kinds) > 0)::int + (cardinality(p.risks) > 0)::int DESC,
             p.id
    LIMIT 1
$$;
-- +goose StatementEnd

-- A window whose closing time is not after its opening time closes on the
-- next day: Fri 22:00–02:00 is open from Friday 22:00 to Saturday 02:00.
-- (00121's check on end_minute names two columns: PostgreSQL called it
-- change_windows_check.)
ALTER TABLE change_windows DROP CONSTRAINT change_windows_check;
ALTER TABLE change_windows ADD CONSTRAINT change_windows_end_minute_check
    CHECK (end_minute BETWEEN 1 AND 1440 AND end_minute <> start_minute);

-- +goose Down
-- Windows that cross midnight cannot be kept under the old rule.
DELETE FROM change_windows WHERE end_minute < start_minute;
ALTER TABLE change_windows DROP CONSTRAINT change_windows_end_minute_check;
ALTER TABLE change_windows ADD CONSTRAINT change_windows_check
    CHECK (end_minute BETWEEN 1 AND 1440 AND end_minute > start_minute);
DROP FUNCTION policy_for(text[], text, text[], text);
-- +goose StatementBegin
CREATE FUNCTION policy_for(request_environments text[], request_kind text, request_risks text[])
RETURNS SETOF policies LANGUAGE sql STABLE AS $$
    SELECT p.* FROM policies p
    WHERE p.enabled
      AND (cardinality(p.environments) = 0 OR p.environments && request_environments)
      AND (cardinality(p.kinds) = 0 OR request_kind = ANY (p.kinds))
      AND (cardinality(p.risks) = 0 OR p.risks && request_risks)
    ORDER BY p.approvals_required DESC,
             (cardinality(p.environments) > 0)::int + (cardinality(p.kinds) > 0)::int
               + (cardinality(p.risks) > 0)::int DESC,
             p.id
    LIMIT 1
$$;
-- +goose StatementEnd
DROP FUNCTION request_team(text, text, jsonb);
ALTER TABLE policies DROP COLUMN teams;
