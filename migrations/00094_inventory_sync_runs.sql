-- The inventory sync writes only the clusters that changed (internal/inventory
-- owns these tables). Each row keeps a hash of what the sync stores of the
-- cluster (name, spec, status, environment, team); a cycle compares the
-- listed clusters' hashes with these in one statement and writes the rows
-- that differ. "Last seen" is kept once per sync run in inventory_state
-- instead of in every row: a cluster that exists and could be read was seen
-- by the last complete run, so its synced time is the later of its row's
-- synced_at (its last write) and the run's.

-- +goose Up
ALTER TABLE clusters ADD COLUMN doc_hash bytea;

-- One row: the time of the last complete sync run (every listed cluster
-- recorded, the missing ones marked deleted); null before the first.
CREATE TABLE inventory_state (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    synced_at timestamptz
);
INSERT INTO inventory_state (id) VALUES (true);

-- The environments of the clusters that exist, for the list page's filter,
-- kept by the sync when a cluster appears, goes or moves environment.
CREATE TABLE cluster_environments (
    environment text PRIMARY KEY
);
INSERT INTO cluster_environments (environment)
SELECT DISTINCT environment FROM clusters WHERE deleted_at IS NULL;

-- The sync's compare and its search for missing clusters can read this
-- index alone (index-only, once vacuum marked the pages all-visible)
-- instead of the rows with their documents, where the planner finds it
-- cheaper; the list page's environment filter uses the second.
CREATE INDEX clusters_live ON clusters (uid) INCLUDE (doc_hash, unreadable) WHERE deleted_at IS NULL;
CREATE INDEX clusters_live_environment ON clusters (environment) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX clusters_live_environment;
DROP INDEX clusters_live;
DROP TABLE cluster_environments;
DROP TABLE inventory_state;
ALTER TABLE clusters DROP COLUMN doc_hash;
