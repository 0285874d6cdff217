-- +goose Up
-- Claims a pool path in a repository for one package. The pool path drops
-- the epoch (as Debian's does), so "p 2.0-1" and "p 1:2.0-1" share one;
-- the claim on (name, version, architecture) alone let a second content
-- overwrite a published pool file.
CREATE TABLE repository_pool (
    repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    filename      text NOT NULL,
    package_id    bigint NOT NULL REFERENCES packages (id),
    CONSTRAINT repository_pool_pkey PRIMARY KEY (repository_id, filename)
);

-- Claims for what is already there: published membership first, then every
-- change in the order it was accepted (a path two contents already share
-- stays with the first; reconcile reports the pool file if it differs).
INSERT INTO repository_pool (repository_id, filename, package_id)
SELECT r.repository_id, rp.filename, rp.package_id
FROM release_packages rp JOIN releases r ON r.id = rp.release_id
ON CONFLICT DO NOTHING;
INSERT INTO repository_pool (repository_id, filename, package_id)
SELECT r.repository_id, a.filename, a.package_id
FROM changes c JOIN releases r ON r.id = c.release_id,
    jsonb_to_recordset(c.adds) AS a(package_id bigint, filename text)
WHERE a.filename IS NOT NULL AND a.package_id IS NOT NULL
ORDER BY c.id
ON CONFLICT DO NOTHING;

-- The /apt/ read path serves a pool file only if a committed generation names it.
CREATE INDEX release_packages_filename_idx ON release_packages (filename);

-- +goose Down
DROP INDEX release_packages_filename_idx;
DROP TABLE repository_pool;
