-- Issue 19 (B7): the audit chain head leaves the request path. An append no
-- longer locks audit_chain_head: it inserts the event unchained, with a
-- provisional seq above audit_pending_base() and no prev_hash or hash, in the
-- caller's transaction. One chainer (internal/audit Chain, run by the worker)
-- then takes the committed unchained events in order, gives each its place in
-- the chain (seq head+1, head+2…), its time (never earlier than the event
-- before) and its hashes, through audit_chain below, in batches of one
-- transaction each. docs/audit.md explains what that means for auditors.

-- +goose Up
-- Provisional seqs: 2^62 plus append_id. Above every chained seq, so the
-- newest page (ORDER BY seq DESC) lists unchained events first, in the order
-- they were appended, and keyset paging goes on working across both.
-- +goose StatementBegin
CREATE FUNCTION audit_pending_base() RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT 4611686018427387904::bigint';
-- +goose StatementEnd

-- append_id is the event's number from its append, kept after chaining, so a
-- link made before chaining (/audit/events/<provisional seq>, a drift's
-- audit_seq) still finds the event. Events appended before this migration
-- have none.
CREATE SEQUENCE audit_append_id AS bigint;
ALTER TABLE audit_log
    ADD COLUMN append_id bigint,
    ALTER COLUMN prev_hash DROP NOT NULL,
    ALTER COLUMN hash DROP NOT NULL,
    ADD CONSTRAINT audit_log_chained_or_pending CHECK (
        CASE WHEN seq < 4611686018427387904 THEN prev_hash IS NOT NULL AND hash IS NOT NULL
             ELSE prev_hash IS NULL AND hash IS NULL AND append_id = seq - 4611686018427387904 END);
CREATE UNIQUE INDEX audit_log_append_id ON audit_log (append_id);

-- The no-update trigger lets audit_chain's own UPDATE through (the flag is
-- transaction-local and set only inside it), like audit_prune's DELETE.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_log'
       AND current_setting('clusterdesk.audit_prune', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_log'
       AND current_setting('clusterdesk.audit_chain', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old events are removed only by retention pruning (audit_prune); see docs/audit.md.';
END;
$$;
-- +goose StatementEnd

-- Even with the flag on, an UPDATE may only chain an unchained event: give
-- it seq, time and hashes. Its contents and any chained event stay as they
-- are.
-- +goose StatementBegin
CREATE FUNCTION audit_chain_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.hash IS NOT NULL
       OR (NEW.actor_type, NEW.actor_id, NEW.actor_name, NEW.action, NEW.subject_type, NEW.subject_id,
           NEW.data, NEW.origin_ip, NEW.origin_request_id, NEW.append_id)
          IS DISTINCT FROM
          (OLD.actor_type, OLD.actor_id, OLD.actor_name, OLD.action, OLD.subject_type, OLD.subject_id,
           OLD.data, OLD.origin_ip, OLD.origin_request_id, OLD.append_id)
       OR NEW.at < OLD.at THEN
        RAISE EXCEPTION 'audit_log is append-only: only an unchained event may be chained, and only its chain fields change'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_chain_guard BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_chain_guard();

-- audit_chain chains unchained events, in the order given, after the chain
-- head: the i-th becomes seq head+i with time ats[i] and hash hashes[i], its
-- prev_hash the hash before it. The caller (audit.Chain) computed the hashes
-- over exactly that seq, time and prev_hash; a wrong one is not refused here
-- but fails every later verification. The function refuses anything that
-- would fork the chain or move time backwards, and events already chained
-- (another chainer got there first). SECURITY DEFINER, like audit_prune: a
-- hardened install grants the portal's role EXECUTE and no UPDATE.
-- +goose StatementBegin
CREATE FUNCTION audit_chain(pending bigint[], ats timestamptz[], hashes bytea[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    n integer := coalesce(cardinality(pending), 0);
    head_seq bigint;
    head_at timestamptz;
    head_hash bytea;
    chained integer;
BEGIN
    IF n = 0 OR n <> coalesce(cardinality(ats), 0) OR n <> coalesce(cardinality(hashes), 0) THEN
        RAISE EXCEPTION 'audit_chain: % events, % times and % hashes', n, cardinality(ats), cardinality(hashes);
    END IF;
    SELECT h.seq, h.at, h.hash INTO head_seq, head_at, head_hash FROM audit_chain_head h FOR UPDATE;
    IF EXISTS (SELECT 1 FROM (
                   SELECT t.at, lag(t.at, 1, head_at) OVER (ORDER BY t.i) AS before
                   FROM unnest(ats) WITH ORDINALITY t(at, i)) s
               WHERE s.at < s.before) THEN
        RAISE EXCEPTION 'audit_chain: time would go backwards';
    END IF;
    PERFORM set_config('clusterdesk.audit_chain', 'on', true);
    UPDATE audit_log l
       SET seq = head_seq + c.i, at = c.at, hash = c.hash,
           prev_hash = CASE WHEN c.i = 1 THEN head_hash ELSE hashes[c.i - 1] END
      FROM unnest(pending, ats, hashes) WITH ORDINALITY c(seq, at, hash, i)
     WHERE l.seq = c.seq AND l.seq >= audit_pending_base() AND length(c.hash) = 32;
    GET DIAGNOSTICS chained = ROW_COUNT;
    PERFORM set_config('clusterdesk.audit_chain', 'off', true);
    IF chained <> n THEN
        RAISE EXCEPTION 'audit_chain: only % of % events are unchained', chained, n
            USING ERRCODE = 'serialization_failure';
    END IF;
    UPDATE audit_chain_head SET seq = head_seq + n, at = ats[n], hash = hashes[n];
    RETURN head_seq + n;
END;
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION audit_chain(bigint[], timestamptz[], bytea[]) FROM PUBLIC;

-- Pruning looks at chained events only: an unchained event has no place in
-- the chain to cut at.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_prune(cutoff timestamptz)
RETURNS TABLE (first_seq bigint, last_seq bigint, anchor_hash bytea, anchor_at timestamptz, pruned bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    head_seq bigint;
BEGIN
    -- Appends wait while we prune: the head cannot move under us.
    SELECT h.seq INTO head_seq FROM audit_chain_head h FOR UPDATE;
    SELECT l.seq, l.hash, l.at INTO last_seq, anchor_hash, anchor_at
        FROM audit_log l WHERE l.at < cutoff AND l.seq < audit_pending_base()
        ORDER BY l.at DESC, l.seq DESC LIMIT 1;
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

-- +goose Down
-- Chain what is still unchained first (portal audit chain), or this fails.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_prune(cutoff timestamptz)
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
DROP FUNCTION audit_chain(bigint[], timestamptz[], bytea[]);
DROP TRIGGER audit_log_chain_guard ON audit_log;
DROP FUNCTION audit_chain_guard();
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP INDEX audit_log_append_id;
ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_chained_or_pending,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL,
    DROP COLUMN append_id;
DROP SEQUENCE audit_append_id;
DROP FUNCTION audit_pending_base();
