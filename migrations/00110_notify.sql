-- Issue 15: notifications. A state change of a request inserts a River job
-- (notify_event) in its own transaction; that job writes one delivery per
-- (event, recipient, channel) here and a notify_deliver job for each, which
-- sends it. Written by internal/notify only.

-- +goose Up
-- Chat (Slack-compatible incoming webhooks) and generic (Standard Webhooks)
-- endpoints configured by admins in the portal. A chat URL carries its
-- token and a webhook has its signing secret: neither is shown again after
-- entry.
CREATE TABLE notify_endpoints (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('chat', 'webhook')),
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    url         text NOT NULL CHECK (url ~ '^https?://'),
    -- whsec_<base64>, for webhooks; empty for chat
    secret      text NOT NULL DEFAULT '',
    -- '' is every environment
    environment text NOT NULL DEFAULT '',
    -- NULL is every policy
    policy_id   bigint REFERENCES policies (id) ON DELETE CASCADE,
    enabled     boolean NOT NULL DEFAULT true,
    created_by  bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'webhook') = (secret <> ''))
);
COMMENT ON TABLE notify_endpoints IS 'owned by internal/notify';

-- A person's choice per event kind; no row means the default of the kind.
CREATE TABLE notify_preferences (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event      text NOT NULL,
    email      boolean NOT NULL,
    -- held for the daily digest instead of sent at once
    digest     boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, event)
);
COMMENT ON TABLE notify_preferences IS 'owned by internal/notify';

-- The delivery log: one row per (event, recipient, channel), whose key is
-- also the webhook-id and the email's Message-ID, so that a job run twice
-- sends nothing twice and a receiver can drop a repeat.
CREATE TABLE notify_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    -- the notify_event job that fanned out to this delivery
    event_id        bigint NOT NULL,
    event           text NOT NULL,
    request_id      bigint NOT NULL REFERENCES change_requests (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('email', 'chat', 'webhook')),
    user_id         bigint REFERENCES users (id) ON DELETE SET NULL,
    endpoint_id     bigint REFERENCES notify_endpoints (id) ON DELETE SET NULL,
    -- an email address or an endpoint's name, never a URL (it may hold a token)
    target          text NOT NULL,
    -- what is sent, rendered once: subject, text, html, or the JSON body
    message         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'digest', 'sent', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
COMMENT ON TABLE notify_deliveries IS 'owned by internal/notify';
CREATE INDEX notify_deliveries_request ON notify_deliveries (request_id);
CREATE INDEX notify_deliveries_digest ON notify_deliveries (user_id) WHERE state = 'digest';

-- +goose Down
DROP TABLE notify_deliveries;
DROP TABLE notify_preferences;
DROP TABLE notify_endpoints;
