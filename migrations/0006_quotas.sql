-- +goose Up
-- Quotas: a counter beside each limit, checked by the database in the same
-- transaction as the write it guards, so concurrent writes cannot overshoot.
ALTER TABLE tenants
    ADD COLUMN max_repositories int NOT NULL DEFAULT 100,
    ADD COLUMN repositories int NOT NULL DEFAULT 0,
    ADD COLUMN max_upload_bytes bigint NOT NULL DEFAULT 1099511627776,
    ADD COLUMN upload_bytes bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT tenants_repositories_quota CHECK (repositories <= max_repositories),
    ADD CONSTRAINT tenants_upload_bytes_quota CHECK (upload_bytes <= max_upload_bytes);

ALTER TABLE repositories
    ADD COLUMN max_packages int NOT NULL DEFAULT 1000000,
    ADD COLUMN packages int NOT NULL DEFAULT 0,
    ADD CONSTRAINT repositories_packages_quota CHECK (packages <= max_packages);

-- +goose Down
ALTER TABLE repositories DROP COLUMN packages, DROP COLUMN max_packages;
ALTER TABLE tenants DROP COLUMN upload_bytes, DROP COLUMN max_upload_bytes,
    DROP COLUMN repositories, DROP COLUMN max_repositories;
