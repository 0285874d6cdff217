-- +goose Up
-- Until when the change's client counts as present. Each long poll of its job
-- pushes it forward; a change whose client is gone fails client_gone instead
-- of holding its round (and every other publisher of the release) until the
-- signature timeout. NULL: not tracked (changes from before this column).
ALTER TABLE changes ADD COLUMN client_seen_until timestamptz;

-- +goose Down
ALTER TABLE changes DROP COLUMN client_seen_until;
