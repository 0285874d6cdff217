-- +goose Up
-- Least privilege: a token's scope (read < publish < admin) and, for read and
-- publish tokens, the repositories it may act on (NULL: all of the tenant's).
-- Tokens made before scopes had every power, so they become admin; new ones
-- must say what they are (no default).
ALTER TABLE api_tokens
    ADD COLUMN scope text NOT NULL DEFAULT 'admin',
    ADD COLUMN repos text[],
    ADD CONSTRAINT api_tokens_scope_check CHECK (scope IN ('read', 'publish', 'admin')),
    ADD CONSTRAINT api_tokens_repos_check CHECK (repos IS NULL OR (scope <> 'admin' AND cardinality(repos) > 0));
ALTER TABLE api_tokens ALTER COLUMN scope DROP DEFAULT;

-- Who signed a round: the token whose signature was accepted.
ALTER TABLE rounds ADD COLUMN signed_by_token_id bigint REFERENCES api_tokens (id) ON DELETE SET NULL;

-- Who did what: a tenant's administrative actions, written in the action's
-- own transaction. token_name is kept as it was then.
CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_id   bigint REFERENCES api_tokens (id) ON DELETE SET NULL,
    token_name text NOT NULL,
    action     text NOT NULL,
    target     text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id DESC);

-- +goose Down
DROP TABLE audit_log;
ALTER TABLE rounds DROP COLUMN signed_by_token_id;
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_repos_check, DROP CONSTRAINT api_tokens_scope_check,
    DROP COLUMN repos, DROP COLUMN scope;
