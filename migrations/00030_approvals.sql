-- Issue 6: the cluster inventory (a cache of the Cloud Manager API kept by
-- the sync job), change requests with their revisions and decisions, and the
-- approval policies. internal/inventory owns clusters and cluster_versions;
-- internal/approvals owns the rest.

-- +goose Up

-- One row per cluster the API has listed, kept fresh by the periodic sync
-- and by on-demand refreshes. Pages read this table, never the API, so the
-- number of API calls does not grow with the number of viewers. A cluster
-- the API no longer lists keeps its row with deleted_at set (requests and
-- the audit log still point at it).
CREATE TABLE clusters (
    uid              text PRIMARY KEY,
    name             text NOT NULL,
    -- the API's documents, as the client decoded and re-encoded them
    -- (unknown members kept)
    spec             jsonb NOT NULL,
    status           jsonb NOT NULL DEFAULT '{}',
    resource_version bigint NOT NULL,
    -- status.state (PENDING, UPDATING, STARTED, STOPPED …), '' when absent
    state            text NOT NULL DEFAULT '',
    -- copies of spec/status values the list page filters and sorts on
    desired_state    text NOT NULL DEFAULT '',
    imply_version    text NOT NULL DEFAULT '',
    server_count     integer NOT NULL DEFAULT 0,
    environment      text NOT NULL,
    team             text NOT NULL DEFAULT '',
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    -- last time a sync or refresh saw the cluster; changed_at is the last
    -- time anything in the row changed
    synced_at        timestamptz NOT NULL,
    changed_at       timestamptz NOT NULL,
    deleted_at       timestamptz
);
-- Names are not unique in the API (BEHAVIOUR.md §4); the portal refuses a
-- create request for a name in use, which this index makes cheap.
CREATE INDEX clusters_name ON clusters (name) WHERE deleted_at IS NULL;
CREATE INDEX clusters_environment ON clusters (environment);

-- Every resource version a sync or refresh has seen, with its spec. Versions
-- that came and went between two syncs are missing; the API's history call
-- has them all.
CREATE TABLE cluster_versions (
    cluster_uid      text NOT NULL REFERENCES clusters (uid),
    resource_version bigint NOT NULL,
    spec             jsonb NOT NULL,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster_uid, resource_version)
);

-- Approval policies. A policy matches a request when each of its non-empty
-- lists matches (environments: the request's environment is listed; kinds:
-- its kind is listed; risks: it has at least one of the listed risk hints).
-- Of the matching policies the strictest applies: most approvals, then the
-- most specific (most non-empty lists), then the lowest id.
CREATE TABLE policies (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL UNIQUE,
    description        text NOT NULL DEFAULT '',
    environments       text[] NOT NULL DEFAULT '{}',
    kinds              text[] NOT NULL DEFAULT '{}',
    risks              text[] NOT NULL DEFAULT '{}',
    approvals_required integer NOT NULL CHECK (approvals_required BETWEEN 1 AND 10),
    -- provider groups whose members may approve
    approver_groups    text[] NOT NULL CHECK (cardinality(approver_groups) > 0),
    enabled            boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

INSERT INTO policies (name, description, environments, kinds, risks, approvals_required, approver_groups) VALUES
    ('default', 'Every change request needs one approval from the approvers group.',
        '{}', '{}', '{}', 1, '{approvers}'),
    ('production', 'Changes to production clusters need two approvals.',
        '{production}', '{}', '{}', 2, '{approvers}'),
    ('delete', 'Deleting a cluster is high-risk anywhere: two approvals.',
        '{}', '{delete}', '{}', 2, '{approvers}'),
    ('scale-down', 'Removing servers is high-risk anywhere: two approvals.',
        '{}', '{}', '{scale_down}', 2, '{approvers}');

-- A change request. Its content (reason, base, proposal, diff) lives in
-- request_revisions; revision names the current one. The state machine is in
-- internal/approvals/state.go; every state change is a conditional UPDATE
-- under a row lock.
CREATE TABLE change_requests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('create', 'update', 'stop', 'start', 'delete', 'restart_server', 'rollback', 'replace')),
    -- null for a create request until the cluster exists
    cluster_uid  text REFERENCES clusters (uid),
    cluster_name text NOT NULL,
    requester_id bigint NOT NULL REFERENCES users (id),
    state        text NOT NULL CHECK (state IN ('pending', 'approved', 'submitting', 'applying', 'succeeded', 'failed',
                                                'rejected', 'cancelled', 'stale', 'expired')),
    revision     integer NOT NULL DEFAULT 1 CHECK (revision > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'create') OR cluster_uid IS NOT NULL)
);
CREATE INDEX change_requests_requester ON change_requests (requester_id, id);
CREATE INDEX change_requests_cluster ON change_requests (cluster_uid, id);
CREATE INDEX change_requests_open ON change_requests (state, id) WHERE state IN ('pending', 'stale', 'approved');
CREATE INDEX change_requests_updated ON change_requests (updated_at DESC, id DESC);

-- Each revision of a request, kept forever: the first is what was filed,
-- later ones are edits and rebases. author_id is who made the revision:
-- authors may not approve (four-eyes covers editors, not only requesters).
CREATE TABLE request_revisions (
    request_id            bigint NOT NULL REFERENCES change_requests (id),
    revision              integer NOT NULL CHECK (revision > 0),
    author_id             bigint NOT NULL REFERENCES users (id),
    reason                text NOT NULL CHECK (btrim(reason) <> ''),
    -- the live cluster when the revision was made; null for create
    base_resource_version bigint,
    base_spec             jsonb,
    -- the spec asked for; null for delete and restart_server
    proposed_spec         jsonb,
    -- kind-specific input, e.g. {"instanceId": "i-…"} for restart_server
    payload               jsonb NOT NULL DEFAULT '{}',
    -- [{path, before, after}], see internal/approvals/diff.go
    diff                  jsonb NOT NULL,
    diff_hash             bytea NOT NULL CHECK (length(diff_hash) = 32),
    risks                 text[] NOT NULL DEFAULT '{}',
    -- the cluster's environment, and the proposed one when the change
    -- moves it; policies match any of them
    environments          text[] NOT NULL CHECK (cardinality(environments) > 0),
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, revision)
);
CREATE INDEX request_revisions_author ON request_revisions (author_id, request_id);

-- Approvals and rejections. A decision is bound to the revision, its diff
-- hash and its base resource version; it counts only while all three are
-- the request's current ones. One decision per person per revision.
CREATE TABLE approvals (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id            bigint NOT NULL REFERENCES change_requests (id),
    revision              integer NOT NULL,
    approver_id           bigint NOT NULL REFERENCES users (id),
    decision              text NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment               text NOT NULL DEFAULT '',
    diff_hash             bytea NOT NULL CHECK (length(diff_hash) = 32),
    base_resource_version bigint,
    -- the approver's groups at the moment of the decision
    approver_groups       text[] NOT NULL,
    policy_id             bigint REFERENCES policies (id),
    created_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT approvals_once UNIQUE (request_id, revision, approver_id),
    FOREIGN KEY (request_id, revision) REFERENCES request_revisions (request_id, revision),
    CHECK (decision = 'approve' OR btrim(comment) <> '')
);
CREATE INDEX approvals_approver ON approvals (approver_id, request_id);

-- +goose Down
DROP TABLE approvals;
DROP TABLE request_revisions;
DROP TABLE change_requests;
DROP TABLE policies;
DROP TABLE cluster_versions;
DROP TABLE clusters;
