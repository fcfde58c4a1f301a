-- Break-glass (issue 16): a member of an emergency group files a change
-- that bypasses approvals and change windows; an approver must review it
-- afterwards, by review_due_at.

-- +goose Up
CREATE TABLE request_emergencies (
    request_id     bigint PRIMARY KEY REFERENCES change_requests (id),
    justification  text NOT NULL CHECK (justification <> ''),
    filed_at       timestamptz NOT NULL DEFAULT now(),
    review_due_at  timestamptz NOT NULL,
    reviewed_by    bigint REFERENCES users (id),
    reviewed_at    timestamptz,
    review_comment text NOT NULL DEFAULT '',
    CHECK ((reviewed_by IS NULL) = (reviewed_at IS NULL))
);
CREATE INDEX request_emergencies_unreviewed ON request_emergencies (review_due_at) WHERE reviewed_at IS NULL;

-- +goose Down
DROP TABLE request_emergencies;
