-- +goose Up
-- The field paths each revision changes, for the collision check: approving
-- a request asks whether an earlier open request of the same cluster changes
-- the same fields. It read every open request of the cluster with its specs
-- and diff and compared the paths in Go (B7: 53% of the approval's CPU with
-- 500 open requests, p99 over half a second). With the paths in a column of
-- their own the database answers with the first colliding request, reading
-- no spec and no diff. Generated, so that every writer (and the rows already
-- there) gets it: a JSON array of the diff's paths.
ALTER TABLE request_revisions
    ADD COLUMN paths jsonb GENERATED ALWAYS AS (jsonb_path_query_array(diff, '$[*].path')) STORED;

-- +goose Down
ALTER TABLE request_revisions DROP COLUMN paths;
