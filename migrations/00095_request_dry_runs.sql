-- Cloud Manager's dry run of a request's revision, run in the background
-- (the worker's request_dry_run and request_dry_runs jobs) when the
-- revision is new, when the cluster's resource version is no longer the
-- one it was run against, or some time after it could not be run; the
-- approver's page reads it and never calls Cloud Manager.
-- internal/approvals owns it.

-- +goose Up
CREATE TABLE request_dry_runs (
    request_id       bigint NOT NULL,
    revision         integer NOT NULL,
    -- the cluster's resource version in the inventory when the dry run
    -- was sent; null for a create (no cluster yet)
    resource_version bigint,
    -- what Cloud Manager refused ([] when it accepted); '[]' with error set
    violations       jsonb NOT NULL DEFAULT '[]',
    -- why the dry run could not be run (busy, unreachable); '' when it ran
    error            text NOT NULL DEFAULT '',
    checked_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, revision),
    FOREIGN KEY (request_id, revision) REFERENCES request_revisions (request_id, revision)
);

-- +goose Down
DROP TABLE request_dry_runs;
