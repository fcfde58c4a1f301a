-- Issue 15: the audit log is the notifications' outbox. Every change people
-- are told of appends its audit event in its own transaction; the worker
-- relays chained events after this cursor into notify_event jobs, moving
-- the cursor in the same transaction (internal/notify, Relay). It starts
-- at the chain head: what happened before notifications existed is not
-- told. Events still unchained now get seqs above it and are told.

-- +goose Up
CREATE TABLE notify_relay (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    -- the last chained audit seq relayed
    seq        bigint NOT NULL,
    relayed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE notify_relay IS 'owned by internal/notify';
INSERT INTO notify_relay (seq) SELECT seq FROM audit_chain_head;

-- +goose Down
DROP TABLE notify_relay;
