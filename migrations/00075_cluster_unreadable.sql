-- A cluster the API lists but the client cannot decode (an undocumented
-- form, see cloudapi.Cluster.Unreadable) keeps its last readable row;
-- unreadable says why the last sync could not read it, '' when it could.
-- The sync sets and clears it (internal/inventory).

-- +goose Up
ALTER TABLE clusters ADD COLUMN unreadable text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clusters DROP COLUMN unreadable;
