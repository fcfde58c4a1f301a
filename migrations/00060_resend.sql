-- An admin may send a failed change again (internal/worker Resend). The
-- retry budget then starts afresh: attempts up to attempt_floor belong to
-- the earlier sends.

-- +goose Up
ALTER TABLE submissions
    ADD COLUMN resends integer NOT NULL DEFAULT 0,
    ADD COLUMN attempt_floor integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE submissions DROP COLUMN resends, DROP COLUMN attempt_floor;
