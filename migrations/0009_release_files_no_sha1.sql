-- +goose Up
-- Release files list SHA256 and SHA512 only; aptq no longer computes SHA1
-- of the index files it generates.
ALTER TABLE release_files DROP COLUMN sha1;

-- +goose Down
ALTER TABLE release_files ADD COLUMN sha1 text NOT NULL DEFAULT '';
