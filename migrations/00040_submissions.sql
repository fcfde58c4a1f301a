-- Issue 7: executing approved changes. internal/worker owns these tables
-- (submit.go, track.go).

-- +goose Up

-- One row per approved request revision, inserted in the approving
-- transaction together with its River job. seq is the approval order:
-- on one cluster (cluster_key: its uid, or "name:<name>" for a create) the
-- open submission with the lowest seq goes first, the others wait.
CREATE TABLE submissions (
    request_id        bigint NOT NULL REFERENCES change_requests (id),
    revision          integer NOT NULL,
    seq               bigint GENERATED ALWAYS AS IDENTITY,
    cluster_key       text NOT NULL,
    -- the cluster the change acts on; for a create, set once it exists
    cluster_uid       text,
    -- true after an attempt whose outcome is unknown (timeout, dropped
    -- connection, 5xx): the next attempt first reconciles with the cluster
    outcome_unknown   boolean NOT NULL DEFAULT false,
    -- the resource version the accepted change produced (update, stop, start)
    target_resource_version bigint,
    -- progress of the cluster's update while the change is applied
    cluster_state     text NOT NULL DEFAULT '',
    total_stages      integer NOT NULL DEFAULT 0,
    current_stage     integer NOT NULL DEFAULT 0,
    -- why it failed, and the API's field errors for the request page
    reason            text NOT NULL DEFAULT '',
    field_errors      jsonb NOT NULL DEFAULT '[]',
    approved_at       timestamptz NOT NULL DEFAULT now(),
    accepted_at       timestamptz,
    finished_at       timestamptz,
    PRIMARY KEY (request_id, revision),
    FOREIGN KEY (request_id, revision) REFERENCES request_revisions (request_id, revision)
);
CREATE INDEX submissions_cluster ON submissions (cluster_key, seq);

-- Every call that could change a cluster, recorded before it is sent and
-- completed after: what was sent (digest), what came back, how long it took.
CREATE TABLE submission_attempts (
    request_id      bigint NOT NULL,
    revision        integer NOT NULL,
    attempt         integer NOT NULL CHECK (attempt > 0),
    operation       text NOT NULL,
    request_digest  bytea NOT NULL CHECK (length(request_digest) = 32),
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    -- HTTP status; null without an answer
    response_status integer,
    body_digest     bytea CHECK (length(body_digest) = 32),
    duration_ms     bigint,
    -- accepted, busy, rate_limited, rejected, unknown, reconciled; null while in flight
    outcome         text CHECK (outcome IN ('accepted', 'busy', 'rate_limited', 'rejected', 'unknown', 'reconciled')),
    error           text NOT NULL DEFAULT '',
    PRIMARY KEY (request_id, revision, attempt),
    FOREIGN KEY (request_id, revision) REFERENCES submissions (request_id, revision)
);

-- The clusters' events as the tracking job copied them; the key makes a
-- copy idempotent.
CREATE TABLE cluster_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cluster_uid text NOT NULL,
    at          timestamptz NOT NULL,
    level       text NOT NULL DEFAULT '',
    source      text NOT NULL DEFAULT '',
    message     text NOT NULL,
    -- the request being applied when the event was copied, if any
    request_id  bigint REFERENCES change_requests (id),
    copied_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cluster_events_once UNIQUE (cluster_uid, at, level, source, message)
);
CREATE INDEX cluster_events_request ON cluster_events (request_id, id) WHERE request_id IS NOT NULL;

-- +goose Down
DROP TABLE cluster_events;
DROP TABLE submission_attempts;
DROP TABLE submissions;
