-- +goose Up
-- Operator tokens belong to no tenant; they administer tenants and see every job.
ALTER TABLE api_tokens ALTER COLUMN tenant_id DROP NOT NULL,
    ADD COLUMN admin boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT api_tokens_owner_check CHECK (admin = (tenant_id IS NULL));

-- +goose Down
DELETE FROM api_tokens WHERE admin;
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_owner_check, DROP COLUMN admin,
    ALTER COLUMN tenant_id SET NOT NULL;
