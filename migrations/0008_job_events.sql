-- +goose Up
-- The timeline of each change, for operators: enqueued, round cut, signed,
-- committed, published or failed, with details.
CREATE TABLE job_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_id bigint NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    kind      text NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}',
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX job_events_change_idx ON job_events (change_id, id);

-- +goose Down
DROP TABLE job_events;
