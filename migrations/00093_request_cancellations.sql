-- Issue 13: who cancelled a change request, when and why, where the request
-- page reads it ("Cancelled by Dave Davis, 2 minutes ago: maintenance
-- freeze"). Until now the reason was only in the audit event's data.
-- Written by internal/approvals (Service.Cancel) only.

-- +goose Up
CREATE TABLE request_cancellations (
    request_id     bigint PRIMARY KEY REFERENCES change_requests (id),
    cancelled_by   bigint NOT NULL REFERENCES users (id),
    -- an admin withdrew someone else's request
    by_admin       boolean NOT NULL,
    -- empty when none was given
    reason         text NOT NULL DEFAULT '',
    -- the state the request left
    previous_state text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE request_cancellations IS 'owned by internal/approvals';

-- Requests cancelled before this table existed: from their audit events.
INSERT INTO request_cancellations (request_id, cancelled_by, by_admin, reason, previous_state, created_at)
SELECT DISTINCT ON (r.id) r.id, u.id, coalesce((a.data->>'by_admin')::boolean, false),
       coalesce(a.data->>'comment', ''), coalesce(a.data->>'previous_state', ''), a.at
FROM audit_log a
JOIN change_requests r ON a.subject_id ~ '^[0-9]{1,18}$' AND r.id = a.subject_id::bigint AND r.state = 'cancelled'
JOIN users u ON a.actor_id ~ '^[0-9]{1,18}$' AND u.id = a.actor_id::bigint
WHERE a.action = 'request.cancelled' AND a.subject_type = 'request' AND a.actor_type = 'user'
ORDER BY r.id, a.seq DESC;

-- +goose Down
DROP TABLE request_cancellations;
