-- Issue 19: pages whose cost does not grow with the tables.
--
-- The start page counted requests by state with a scan of change_requests
-- (17.7 ms at 100,000 requests). request_state_counts keeps those counts,
-- moved by a trigger in the transaction of every insert, state change and
-- delete of a request, so they are exact under concurrency (a reader sees
-- the counts of the requests its snapshot sees) whoever writes the table.
--
-- A single row per state would put every state change of every request in
-- one queue until its transaction commits (the approval transaction among
-- them). So each state has a row per slot, the writing backend's pid modulo
-- 16: transactions on different connections add to different rows, and a
-- reader sums at most 16 rows per state. Within one transaction the rows
-- are taken in the order of the state's name, so two transactions sharing a
-- slot wait for each other rather than deadlock on a single change each.
-- Written by this trigger only (the table belongs to internal/approvals).

-- +goose Up
CREATE TABLE request_state_counts (
    state text NOT NULL,
    slot  integer NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (state, slot)
);
COMMENT ON TABLE request_state_counts IS 'owned by internal/approvals, written by the trigger request_state_counts on change_requests';

INSERT INTO request_state_counts (state, slot, n)
SELECT state, 0, count(*) FROM change_requests GROUP BY state;

-- +goose StatementBegin
CREATE FUNCTION request_state_counts_add(st text, delta bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO request_state_counts (state, slot, n) VALUES (st, pg_backend_pid() % 16, delta)
    ON CONFLICT (state, slot) DO UPDATE SET n = request_state_counts.n + excluded.n
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION request_state_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM request_state_counts_add(NEW.state, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM request_state_counts_add(OLD.state, -1);
    ELSIF OLD.state < NEW.state THEN
        PERFORM request_state_counts_add(OLD.state, -1);
        PERFORM request_state_counts_add(NEW.state, 1);
    ELSE
        PERFORM request_state_counts_add(NEW.state, 1);
        PERFORM request_state_counts_add(OLD.state, -1);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION request_state_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM request_state_counts;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER request_state_counts AFTER INSERT OR DELETE ON change_requests
    FOR EACH ROW EXECUTE FUNCTION request_state_counts_move();
CREATE TRIGGER request_state_counts_moved AFTER UPDATE OF state ON change_requests
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION request_state_counts_move();
CREATE TRIGGER request_state_counts_truncated AFTER TRUNCATE ON change_requests
    FOR EACH STATEMENT EXECUTE FUNCTION request_state_counts_clear();

-- Finished today (the start page): the requests that succeeded or failed
-- in the last 24 hours, read in the index from its time on.
CREATE INDEX change_requests_finished ON change_requests (state, updated_at)
    WHERE state IN ('succeeded', 'failed');

-- The open requests of given clusters (the cluster list's counts, the
-- request page's other open requests): only open requests are in it.
CREATE INDEX change_requests_cluster_open ON change_requests (cluster_uid, id)
    WHERE state IN ('pending', 'stale', 'approved', 'submitting', 'applying');

-- The cluster list's keyset pages in its default order (name, then uid).
CREATE INDEX clusters_name_uid ON clusters (name, uid) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX clusters_name_uid;
DROP INDEX change_requests_cluster_open;
DROP INDEX change_requests_finished;
DROP TRIGGER request_state_counts_truncated ON change_requests;
DROP TRIGGER request_state_counts_moved ON change_requests;
DROP TRIGGER request_state_counts ON change_requests;
DROP FUNCTION request_state_counts_clear();
DROP FUNCTION request_state_counts_move();
DROP FUNCTION request_state_counts_add(text, bigint);
DROP TABLE request_state_counts;
