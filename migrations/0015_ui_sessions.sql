-- +goose Up
-- The operator page's sessions and one-time login codes live here, not in
-- signed tickets or in one process's memory, so that every API process sees
-- a logout, a revoked token and a spent code. Only hashes of the random ids
-- are stored: a reader of this table cannot sign in with them.
CREATE TABLE ui_sessions (
    id_hash    bytea PRIMARY KEY,
    token_id   bigint NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX ui_sessions_expires_idx ON ui_sessions (expires_at);

-- A code is deleted when it is used: of two requests with one code, one
-- deletes the row and the other finds none.
CREATE TABLE ui_login_codes (
    code_hash  bytea PRIMARY KEY,
    token_id   bigint NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX ui_login_codes_expires_idx ON ui_login_codes (expires_at);

-- +goose Down
DROP TABLE ui_login_codes;
DROP TABLE ui_sessions;
