-- The audit page's cluster filter: "everything that happened to cluster X".
-- Every event about a cluster or about a request on one (filed, approved,
-- cancelled, submitted, applied, drift found) names the cluster in
-- data.cluster_name, so one index ending in seq serves the filter as a
-- single range scan in page order, like the actor and subject indexes.
-- Partial: sign-ins and other events without a cluster are not indexed.
-- Built in the migration's transaction: the portal refuses to start on an
-- out-of-date schema, so nothing appends while it builds.

-- +goose Up
CREATE INDEX audit_log_cluster_seq ON audit_log ((lower(data->>'cluster_name')), seq)
    WHERE data ? 'cluster_name';

-- +goose Down
DROP INDEX audit_log_cluster_seq;
