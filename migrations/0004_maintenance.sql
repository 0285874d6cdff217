-- +goose Up

-- What a reconcile of a release found and repaired, for operators.
CREATE TABLE reconcile_reports (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    release_id bigint NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    job_id     bigint,
    generation bigint NOT NULL,
    checked    int NOT NULL,
    -- [{key, problem, action}]
    repairs    jsonb NOT NULL DEFAULT '[]',
    outcome    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconcile_reports_release_idx ON reconcile_reports (release_id, id DESC);

-- When a package left a component of a release, so that garbage collection
-- keeps its pool file while recent generations may still name it.
CREATE TABLE pool_removals (
    repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    filename      text NOT NULL,
    removed_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pool_removals_pkey PRIMARY KEY (repository_id, filename)
);

-- +goose Down
DROP TABLE pool_removals;
DROP TABLE reconcile_reports;
