-- Issue 16: approvals expire. An approval older than its policy's
-- approval_max_age no longer counts (internal/approvals); an approver whose
-- approval expired may renew it, which stamps renewed_at on the same row.
-- A change whose approvals expired before it was sent goes back to pending
-- (internal/execution records it on its submission) and, approved afresh,
-- joins its cluster's queue again at the back. Numbered after 00131: goose
-- refuses a migration below the latest applied one.

-- +goose Up
ALTER TABLE policies ADD COLUMN approval_max_age interval NOT NULL DEFAULT '7 days'
    CONSTRAINT policies_approval_max_age_positive CHECK (approval_max_age > interval '0');

-- when the approver renewed an approval that had expired; it counts from
-- then (coalesce(renewed_at, created_at))
ALTER TABLE approvals ADD COLUMN renewed_at timestamptz;

-- when the worker found the approvals expired and sent the request back
-- to pending (cleared when it is queued again), and how many times that
-- happened: each fresh approval queues it anew, with a job of its own
ALTER TABLE submissions
    ADD COLUMN approvals_expired_at timestamptz,
    ADD COLUMN requeues integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE submissions DROP COLUMN requeues, DROP COLUMN approvals_expired_at;
ALTER TABLE approvals DROP COLUMN renewed_at;
ALTER TABLE policies DROP COLUMN approval_max_age;
