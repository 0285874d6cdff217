-- +goose Up
-- Valid-Until = Date + valid_for in every Release of the release; NULL: none.
ALTER TABLE releases ADD COLUMN valid_for interval;

-- +goose Down
ALTER TABLE releases DROP COLUMN valid_for;
