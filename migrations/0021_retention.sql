-- +goose Up
-- Retention: a round keeps at most keep_versions versions of each (package
-- name, architecture) in a component, the newest by dpkg order; 0 keeps all.
ALTER TABLE releases ADD COLUMN keep_versions integer NOT NULL DEFAULT 0;
ALTER TABLE releases ADD CONSTRAINT releases_keep_versions_check CHECK (keep_versions BETWEEN 0 AND 10000);
-- What retention removed in a round, beside its changes, and the setting it
-- applied: the signer checks both (the removals are listed, and each leaves
-- keep_versions newer versions of its package), the history shows them.
ALTER TABLE rounds ADD COLUMN keep_versions integer NOT NULL DEFAULT 0;
ALTER TABLE rounds ADD COLUMN retention jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE rounds DROP COLUMN retention;
ALTER TABLE rounds DROP COLUMN keep_versions;
ALTER TABLE releases DROP CONSTRAINT releases_keep_versions_check;
ALTER TABLE releases DROP COLUMN keep_versions;
