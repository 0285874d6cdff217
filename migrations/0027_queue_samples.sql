-- +goose Up
-- The queue depth chart over a window: nothing else keeps the number of
-- open jobs at a past moment cheaply, so the elected worker samples it each
-- minute, as a metrics system would. A sample is, at a minute: per release
-- and state, its open jobs (rows with jobs only); per state, the jobs of
-- all releases (release_id 0); and one row (release_id 0, state 'all') with
-- every open job, written even when it is zero, so that a minute that was
-- sampled tells itself from one that was not (no worker running). No
-- foreign key: release 0 is no release, and a deleted release's samples
-- age out with the others after 8 days.
CREATE TABLE queue_samples (
    at         timestamptz NOT NULL,
    release_id bigint NOT NULL,
    state      text NOT NULL,
    jobs       integer NOT NULL,
    -- A window's samples of a release (or of all: 0) are read from the
    -- index alone: release first, then time.
    PRIMARY KEY (release_id, at, state) INCLUDE (jobs)
);
-- Pruning the oldest minutes of every release.
CREATE INDEX queue_samples_at_idx ON queue_samples (at);

-- +goose Down
DROP TABLE queue_samples;
