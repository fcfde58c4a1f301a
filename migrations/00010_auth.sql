-- People who signed in, their sessions, and sign-ins in progress.

-- +goose Up
-- A person is identified by their provider (issuer) and the provider's stable
-- subject, never by email: emails change and can be reassigned.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuer        text NOT NULL,
    subject       text NOT NULL,
    username      text NOT NULL DEFAULT '',
    name          text NOT NULL DEFAULT '',
    email         text NOT NULL DEFAULT '',
    -- groups as the provider sent them at the last sign-in; roles derive
    -- from them through the configuration.
    groups        text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz NOT NULL,
    CONSTRAINT users_identity UNIQUE (issuer, subject)
);

-- A server-side session. The browser holds a random 256-bit id; only its
-- SHA-256 is stored, so a copy of this table does not let anyone in.
CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    -- the raw ID token, sent back to the provider as id_token_hint at logout
    id_token     text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    -- when the session ends unless used again: the earlier of last_seen_at
    -- plus the idle timeout and created_at plus the absolute timeout. Reads
    -- check the configured timeouts too, so shortening them takes effect.
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- A sign-in between the redirect to the provider and its callback. The
-- browser holds a random id in a short-lived cookie; state, nonce and PKCE
-- verifier stay here, and the row is deleted when the callback uses it.
CREATE TABLE login_attempts (
    id_hash       bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    state         text NOT NULL,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,
    return_to     text NOT NULL DEFAULT '/',
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX login_attempts_expires_at ON login_attempts (expires_at);

-- +goose Down
DROP TABLE login_attempts;
DROP TABLE sessions;
DROP TABLE users;
