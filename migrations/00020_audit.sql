-- The audit log: append-only and hash-chained. docs/audit.md explains the
-- chain, how to recompute it, and the privileges a hardened install uses.

-- +goose Up
-- Trigram indexes for the free-text filter. pg_trgm is a trusted extension:
-- the database owner may create it without being a superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- One row per event. seq is the position in the chain, gap-free from 1 (or
-- from the pruning anchor). at comes from the database clock and never goes
-- backwards along seq, so a time range is also a seq range.
CREATE TABLE audit_log (
    seq               bigint PRIMARY KEY CHECK (seq > 0),
    at                timestamptz NOT NULL,
    actor_type        text NOT NULL CHECK (actor_type IN ('user', 'system')),
    actor_id          text NOT NULL,
    actor_name        text NOT NULL,
    action            text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    subject_type      text NOT NULL,
    subject_id        text NOT NULL,
    data              jsonb NOT NULL,
    origin_ip         text NOT NULL DEFAULT '',
    origin_request_id text NOT NULL DEFAULT '',
    prev_hash         bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash              bytea NOT NULL CHECK (length(hash) = 32)
);

-- The page lists newest first and pages by seq (keyset): each filter has an
-- index ending in seq, so any page, first or ten-millionth, is one short
-- index range scan.
CREATE INDEX audit_log_action_seq ON audit_log (action, seq);
CREATE INDEX audit_log_actor_seq ON audit_log (actor_id, seq);
CREATE INDEX audit_log_subject_seq ON audit_log (subject_type, subject_id, seq);
-- Turns a time range into a seq range (first event at or after a time).
CREATE INDEX audit_log_at_seq ON audit_log (at, seq);
-- Free text over the payload (ILIKE '%words%').
CREATE INDEX audit_log_data_trgm ON audit_log USING gin ((data::text) gin_trgm_ops);

-- The head of the chain: the last seq, its hash and time. Appends lock this
-- one row (UPDATE … RETURNING), which serialises them until commit, so the
-- chain never forks and seq has no gaps.
CREATE TABLE audit_chain_head (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq  bigint NOT NULL,
    at   timestamptz NOT NULL,
    hash bytea NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO audit_chain_head (seq, at, hash) VALUES (0, '-infinity', '\x0000000000000000000000000000000000000000000000000000000000000000');

-- When old events are pruned, the hash of the last pruned event stays here,
-- so the remaining chain still verifies from a known starting point.
CREATE TABLE audit_anchor (
    seq       bigint PRIMARY KEY,
    hash      bytea NOT NULL CHECK (length(hash) = 32),
    at        timestamptz NOT NULL,
    pruned    bigint NOT NULL,
    pruned_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Nothing edits or removes audit rows: every UPDATE, DELETE and TRUNCATE
-- statement fails, for every role, owner included. The only exception is
-- audit_prune below, which sets a transaction-local flag before it deletes.
-- +goose StatementBegin
CREATE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_log'
       AND current_setting('clusterdesk.audit_prune', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old events are removed only by retention pruning (audit_prune); see docs/audit.md.';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_anchor_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_anchor
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();

-- audit_prune deletes the events older than cutoff (a prefix of the chain,
-- since time follows seq), first recording the last one's seq and hash as an
-- anchor. It runs with its owner's rights (SECURITY DEFINER), so a hardened
-- install can deny the portal's role DELETE on audit_log and grant it
-- EXECUTE on this function only. The caller appends the audit.pruned event
-- in the same transaction. Returns no row when nothing is old enough.
-- +goose StatementBegin
CREATE FUNCTION audit_prune(cutoff timestamptz)
RETURNS TABLE (first_seq bigint, last_seq bigint, anchor_hash bytea, anchor_at timestamptz, pruned bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    head_seq bigint;
BEGIN
    -- Appends wait while we prune: the head cannot move under us.
    SELECT h.seq INTO head_seq FROM audit_chain_head h FOR UPDATE;
    SELECT l.seq, l.hash, l.at INTO last_seq, anchor_hash, anchor_at
        FROM audit_log l WHERE l.at < cutoff ORDER BY l.at DESC, l.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT min(l.seq) INTO first_seq FROM audit_log l;
    PERFORM set_config('clusterdesk.audit_prune', 'on', true);
    DELETE FROM audit_log l WHERE l.seq <= last_seq;
    GET DIAGNOSTICS pruned = ROW_COUNT;
    PERFORM set_config('clusterdesk.audit_prune', 'off', true);
    INSERT INTO audit_anchor (seq, hash, at, pruned) VALUES (last_seq, anchor_hash, anchor_at, pruned);
    RETURN NEXT;
END;
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION audit_prune(timestamptz) FROM PUBLIC;

-- +goose Down
-- pg_trgm stays: dropping an extension could break objects we did not make.
DROP FUNCTION audit_prune(timestamptz);
DROP TABLE audit_anchor;
DROP TABLE audit_chain_head;
DROP TABLE audit_log;
DROP FUNCTION audit_reject_change();
