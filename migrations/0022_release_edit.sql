-- +goose Up
-- Release options written into every Release: NotAutomatic and
-- ButAutomaticUpgrades (backports-style suites; the second needs the first),
-- and Signed-By (the fingerprints apt >= 2.3 accepts for the release).
ALTER TABLE releases
    ADD COLUMN not_automatic boolean NOT NULL DEFAULT false,
    ADD COLUMN but_automatic_upgrades boolean NOT NULL DEFAULT false,
    ADD COLUMN signed_by text NOT NULL DEFAULT '',
    -- Set when a delete is requested: no change is accepted any more and the
    -- delete job removes it from S3, then the row.
    ADD COLUMN deleting_at timestamptz,
    ADD CONSTRAINT releases_but_automatic_check CHECK (NOT but_automatic_upgrades OR not_automatic);

ALTER TABLE repositories ADD COLUMN deleting_at timestamptz;

-- What a release update changes (fields, components, architectures,
-- compressions, options); NULL for a change of packages only. The round
-- that takes the change applies it when it commits.
ALTER TABLE changes ADD COLUMN settings jsonb;

-- +goose Down
ALTER TABLE changes DROP COLUMN settings;
ALTER TABLE repositories DROP COLUMN deleting_at;
ALTER TABLE releases
    DROP CONSTRAINT releases_but_automatic_check,
    DROP COLUMN deleting_at,
    DROP COLUMN signed_by,
    DROP COLUMN but_automatic_upgrades,
    DROP COLUMN not_automatic;
