-- Issue 8: configuration history, drift and rollback. internal/inventory
-- owns cluster_versions (which version came from where), internal/approvals
-- owns cluster_drifts and the attribution of versions to requests
-- (approvals/history.go).

-- +goose Up

-- A version's spec never changes: a version seen by a sync or refresh is
-- stored from that read (the live document at that resource version); one
-- that came and went between two reads is fetched once from the history
-- API (source 'history', fetched_at set) and never again.
ALTER TABLE cluster_versions
    ADD COLUMN source text NOT NULL DEFAULT 'live' CHECK (source IN ('live', 'history')),
    ADD COLUMN fetched_at timestamptz,
    -- the request whose submission produced the version (its submission's
    -- target resource version), null when none did
    ADD COLUMN produced_by_request_id bigint REFERENCES change_requests (id),
    -- true: changed outside Clusterdesk; null: not attributed yet (a
    -- submission on the cluster was in flight when the version was seen)
    ADD COLUMN outside boolean,
    ADD COLUMN attributed_at timestamptz,
    ADD CHECK (NOT (outside AND produced_by_request_id IS NOT NULL)),
    ADD CHECK ((source = 'history') = (fetched_at IS NOT NULL));
CREATE INDEX cluster_versions_unattributed ON cluster_versions (cluster_uid, resource_version) WHERE outside IS NULL;
CREATE INDEX cluster_versions_request ON cluster_versions (produced_by_request_id) WHERE produced_by_request_id IS NOT NULL;

-- The versions seen before this migration are attributed now, without
-- drift entries: to the request whose submission targeted them, else to
-- "outside".
UPDATE cluster_versions v SET
    produced_by_request_id = s.request_id,
    outside = s.request_id IS NULL,
    attributed_at = now()
FROM (
    SELECT cv.cluster_uid, cv.resource_version,
           (SELECT sb.request_id FROM submissions sb
            WHERE sb.cluster_uid = cv.cluster_uid AND sb.target_resource_version = cv.resource_version
            ORDER BY sb.seq LIMIT 1) AS request_id
    FROM cluster_versions cv
) s
WHERE s.cluster_uid = v.cluster_uid AND s.resource_version = v.resource_version;

-- A change of a cluster's configuration that no Clusterdesk request
-- explains: from the last version before it to the last version of the
-- run of outside versions, with the diff between the two specs.
CREATE TABLE cluster_drifts (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cluster_uid           text NOT NULL REFERENCES clusters (uid),
    from_resource_version bigint NOT NULL,
    to_resource_version   bigint NOT NULL CHECK (to_resource_version > from_resource_version),
    -- [{path, before, after}], see internal/approvals/diff.go
    diff                  jsonb NOT NULL,
    detected_at           timestamptz NOT NULL DEFAULT now(),
    -- the cluster.drift_detected event
    audit_seq             bigint NOT NULL,
    CONSTRAINT cluster_drifts_once UNIQUE (cluster_uid, to_resource_version)
);
CREATE INDEX cluster_drifts_cluster ON cluster_drifts (cluster_uid, id);

-- A revision made from an earlier one (a rebase, or an edit after the
-- cluster moved) records what changed: the cluster's changes between the
-- two bases and how the proposal's own diff changed.
ALTER TABLE request_revisions ADD COLUMN rebase jsonb;

-- +goose Down
ALTER TABLE request_revisions DROP COLUMN rebase;
DROP TABLE cluster_drifts;
DROP INDEX cluster_versions_request;
DROP INDEX cluster_versions_unattributed;
ALTER TABLE cluster_versions
    DROP COLUMN attributed_at,
    DROP COLUMN outside,
    DROP COLUMN produced_by_request_id,
    DROP COLUMN fetched_at,
    DROP COLUMN source;
