-- Issue 12: execution moves to internal/execution, which now owns
-- submissions, submission_attempts and cluster_events. A change whose
-- outcome cannot be told (a create whose answer was lost and whose cluster
-- did not appear within the settle time) stops for a person instead of
-- being sent again.

-- +goose Up
ALTER TABLE submissions ADD COLUMN needs_person boolean NOT NULL DEFAULT false;
COMMENT ON TABLE submissions IS 'owned by internal/execution';
COMMENT ON TABLE submission_attempts IS 'owned by internal/execution';
COMMENT ON TABLE cluster_events IS 'owned by internal/execution';

-- +goose Down
COMMENT ON TABLE submissions IS NULL;
COMMENT ON TABLE submission_attempts IS NULL;
COMMENT ON TABLE cluster_events IS NULL;
ALTER TABLE submissions DROP COLUMN needs_person;
