-- Issue 19: the requests page suggests the names of the clusters requests
-- were filed for (approvals.ClusterNames). SELECT DISTINCT read every
-- request; this index lets the query skip from one name to the next, so it
-- reads one entry per name it suggests.

-- +goose Up
CREATE INDEX change_requests_cluster_name ON change_requests (cluster_name);

-- +goose Down
DROP INDEX change_requests_cluster_name;
