-- Issue 19: pages whose cost does not grow with the tables.
--
-- The start page counted requests by state with a scan of change_requests
-- (17.7 ms at 100,000 requests). request_state_counts keeps those counts,
-- moved by triggers in the statement of every insert, state change and
-- delete of requests, so they are exact under concurrency (a reader sees
-- the counts of the requests its snapshot sees) whoever writes the table.
--
-- A single row per state would put every state change of every request in
-- one queue until its transaction commits (the approval transaction among
-- them). So each state has a row per slot, the writing backend's pid modulo
-- 16: transactions on different connections add to different rows, and a
-- reader sums at most 16 rows per state. Within a statement the rows are
-- taken in the order of the states' names, so two transactions sharing a
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
CREATE FUNCTION request_state_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One row per state the statement moved, in the order of the states'
    -- names, added to the rows of this connection's slot.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO request_state_counts (state, slot, n)
        SELECT state, pg_backend_pid() % 16, count(*) FROM new_rows GROUP BY state ORDER BY state
        ON CONFLICT (state, slot) DO UPDATE SET n = request_state_counts.n + excluded.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO request_state_counts (state, slot, n)
        SELECT state, pg_backend_pid() % 16, -count(*) FROM old_rows GROUP BY state ORDER BY state
        ON CONFLICT (state, slot) DO UPDATE SET n = request_state_counts.n + excluded.n;
    ELSE
        INSERT INTO request_state_counts (state, slot, n)
        SELECT state, pg_backend_pid() % 16, sum(delta) FROM (
            SELECT o.state, -1 AS delta FROM old_rows o JOIN new_rows w ON w.id = o.id WHERE w.state <> o.state
            UNION ALL
            SELECT w.state, 1 FROM old_rows o JOIN new_rows w ON w.id = o.id WHERE w.state <> o.state
        ) moved
        GROUP BY state HAVING sum(delta) <> 0 ORDER BY state
        ON CONFLICT (state, slot) DO UPDATE SET n = request_state_counts.n + excluded.n;
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

-- Statement triggers: a statement that files or moves many requests adds
-- to each state's row once (a row updated once per request in one
-- transaction would grow a chain of versions that each update walks).
CREATE TRIGGER request_state_counts_inserted AFTER INSERT ON change_requests
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION request_state_counts_move();
CREATE TRIGGER request_state_counts_moved AFTER UPDATE ON change_requests
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION request_state_counts_move();
CREATE TRIGGER request_state_counts_deleted AFTER DELETE ON change_requests
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION request_state_counts_move();
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
DROP TRIGGER request_state_counts_deleted ON change_requests;
DROP TRIGGER request_state_counts_moved ON change_requests;
DROP TRIGGER request_state_counts_inserted ON change_requests;
DROP FUNCTION request_state_counts_clear();
DROP FUNCTION request_state_counts_move();
DROP TABLE request_state_counts;
