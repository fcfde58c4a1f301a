-- Personal access tokens for the JSON API, and service identities for
-- machines that call it with a token from the OpenID provider.

-- +goose Up
-- A token is shown once, when it is made; only its SHA-256 is stored, so a
-- copy of this table does not let anyone in. prefix is the token's first
-- characters, enough for its owner to recognise it in the list.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    secret_hash  bytea NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    prefix       text NOT NULL,
    -- read, request, approve
    scopes       text[] NOT NULL CHECK (cardinality(scopes) > 0
                     AND scopes <@ ARRAY['read', 'request', 'approve']::text[]),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    last_used_ip text NOT NULL DEFAULT '',
    CONSTRAINT api_tokens_expire_after_creation CHECK (expires_at > created_at)
);
-- A person's token names are unique among their live tokens.
CREATE UNIQUE INDEX api_tokens_user_name ON api_tokens (user_id, name) WHERE revoked_at IS NULL;

-- A machine (a CI pipeline with a workload identity) signs in with no
-- browser: it is a row of users like a person, marked so that it never
-- approves or rejects.
ALTER TABLE users ADD COLUMN machine boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE users DROP COLUMN machine;
DROP TABLE api_tokens;
