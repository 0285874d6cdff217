-- +goose Up
-- An index file a Release lists but S3 does not hold: the uncompressed
-- Packages of a release without the "none" compression (apt checks what it
-- decompressed against its listed size and hashes, and never fetches it).
-- Rows from before this column were all stored; their sha512 is kept, as the
-- by-hash/SHA512 objects of those generations exist until GC removes them.
ALTER TABLE release_files ADD COLUMN listed_only boolean NOT NULL DEFAULT false;
-- Bytes a round wrote to S3 when it was cut (its by-hash objects), for the
-- per-round upload metric the publishing worker records.
ALTER TABLE rounds ADD COLUMN by_hash_bytes bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE rounds DROP COLUMN by_hash_bytes;
ALTER TABLE release_files DROP COLUMN listed_only;
