-- +goose Up
-- A repository's webhooks: each event of the repository (a round published,
-- a round failed) is POSTed, signed with secret, to url. The secret is
-- stored as it is, not hashed: the worker must sign every delivery with it.
CREATE TABLE webhooks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    url           text NOT NULL,
    secret        text NOT NULL,
    events        text[] NOT NULL,
    token_id      bigint REFERENCES api_tokens (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhooks_events_check CHECK (cardinality(events) > 0 AND events <@ ARRAY['published', 'failed']),
    CONSTRAINT webhooks_url_check CHECK (length(url) <= 2048)
);
CREATE INDEX webhooks_repository_idx ON webhooks (repository_id);

-- One event sent to one webhook. event_id is the same on every attempt
-- (receivers deduplicate on it); payload is the exact JSON body. The last
-- attempt's answer is kept, its body truncated.
CREATE TABLE webhook_deliveries (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id     bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id       uuid NOT NULL DEFAULT gen_random_uuid(),
    event          text NOT NULL,
    payload        jsonb NOT NULL,
    state          text NOT NULL DEFAULT 'pending',
    attempts       int NOT NULL DEFAULT 0,
    response_status int,
    response_body  text,
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    attempted_at   timestamptz,
    CONSTRAINT webhook_deliveries_state_check CHECK (state IN ('pending', 'delivered', 'failed'))
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id DESC);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
