-- Issue 13: the requests page (internal/approvals/list.go) lists requests
-- newest first by filing time, then id, a page at a time from a keyset
-- cursor; these indexes let it walk in that order, for everyone, for one
-- requester ("mine") and for one cluster name.

-- +goose Up
CREATE INDEX change_requests_filed ON change_requests (created_at DESC, id DESC);
CREATE INDEX change_requests_requester_filed ON change_requests (requester_id, created_at DESC, id DESC);
CREATE INDEX change_requests_cluster_name_filed ON change_requests (lower(cluster_name), created_at DESC, id DESC);

-- +goose Down
DROP INDEX change_requests_cluster_name_filed;
DROP INDEX change_requests_requester_filed;
DROP INDEX change_requests_filed;
