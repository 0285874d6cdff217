-- +goose Up
-- The file list of each uploaded package (its data.tar paths, sorted, one a
-- line, gzip-compressed: apt.EncodeFileList), read once at upload for the
-- Contents indices; NULL for packages uploaded before this migration.
ALTER TABLE packages
    ADD COLUMN file_list bytea,
    ADD COLUMN file_count integer CHECK (file_count >= 0);

-- Whether the release publishes <component>/Contents-<arch>.gz. Releases
-- created before this migration keep today's indexes; new ones get it
-- unless created with contents off (the API's default is on).
ALTER TABLE releases ADD COLUMN contents boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE releases DROP COLUMN contents;
ALTER TABLE packages DROP COLUMN file_count, DROP COLUMN file_list;
