-- +goose Up
-- Who asked for a change: the token (and through it the tenant's pipeline)
-- that submitted it. NULL for changes made before tokens were recorded.
ALTER TABLE changes ADD COLUMN token_id bigint REFERENCES api_tokens (id);

-- +goose Down
ALTER TABLE changes DROP COLUMN token_id;
