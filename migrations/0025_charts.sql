-- +goose Up
-- The operator page's charts read rounds by the time they ended, published
-- or failed. A failed round kept no such time, so finished_at records it for
-- both; a trigger sets it on the state change, so that every path that ends
-- a round (publish, failure, expiry, abort, cancel) records it without each
-- remembering to. Rounds that ended before this migration get their best
-- known time.
ALTER TABLE rounds ADD COLUMN finished_at timestamptz;
UPDATE rounds SET finished_at = CASE WHEN state = 'published' THEN coalesce(published_at, created_at)
    ELSE greatest(created_at, committed_at, signed_at) END
    WHERE state IN ('published', 'failed');

-- +goose StatementBegin
CREATE FUNCTION rounds_set_finished_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.finished_at := coalesce(NEW.published_at, now());
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER rounds_finished_at BEFORE UPDATE OF state ON rounds FOR EACH ROW
    WHEN (NEW.state IN ('published', 'failed') AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION rounds_set_finished_at();

-- The 7-day charts read an hourly rollup, not a week of rounds: per release
-- (release_id 0: all releases) and UTC hour, the rounds that ended and
-- histograms of their durations and signature waits, in milliseconds, in
-- buckets a quarter of a power of two wide: element i (1-based) counts
-- [2^((i-1)/4), 2^(i/4)) ms, 96 holds the longer ones, 97 the rounds
-- without that duration (failed, or never signed). No foreign key: release 0
-- is no release, and a deleted release's hours stay counted in it.
CREATE TABLE round_hours (
    release_id bigint NOT NULL,
    hour       timestamptz NOT NULL,
    published  integer NOT NULL DEFAULT 0,
    failed     integer NOT NULL DEFAULT 0,
    round_hist integer[] NOT NULL DEFAULT array_fill(0, ARRAY[97]),
    sign_hist  integer[] NOT NULL DEFAULT array_fill(0, ARRAY[97]),
    PRIMARY KEY (release_id, hour)
);

-- +goose StatementBegin
CREATE FUNCTION round_hist_index(d interval) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN d IS NULL THEN 97
        ELSE least(96, floor(4 * ln(greatest(date_part('epoch', d) * 1000, 1)) / ln(2))::integer + 1) END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- round_hours_record counts a round that ended: in the all-releases row
-- first, then in its release's, one order for every writer.
CREATE FUNCTION round_hours_record(release bigint, state text, created timestamptz, signed timestamptz,
        finished timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ri integer := round_hist_index(CASE WHEN state = 'published' THEN finished - created END);
    si integer := round_hist_index(signed - created);
    h timestamptz := date_trunc('hour', finished, 'UTC');
    rel bigint;
BEGIN
    FOREACH rel IN ARRAY ARRAY[0, release] LOOP
        INSERT INTO round_hours (release_id, hour) VALUES (rel, h) ON CONFLICT DO NOTHING;
        UPDATE round_hours SET published = published + (state = 'published')::integer,
            failed = failed + (state = 'failed')::integer,
            round_hist[ri] = round_hist[ri] + 1, sign_hist[si] = sign_hist[si] + 1
        WHERE release_id = rel AND hour = h;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rounds_count_hour() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM round_hours_record(NEW.release_id, NEW.state, NEW.created_at, NEW.signed_at, NEW.finished_at);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER rounds_count_hour AFTER UPDATE OF state ON rounds FOR EACH ROW
    WHEN (NEW.state IN ('published', 'failed') AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION rounds_count_hour();
SELECT round_hours_record(release_id, state, created_at, signed_at, finished_at)
    FROM rounds WHERE finished_at IS NOT NULL ORDER BY id;

-- Covering indexes: a window's rounds are read from the index alone.
CREATE INDEX rounds_finished_idx ON rounds (finished_at) INCLUDE (state, created_at, signed_at)
    WHERE finished_at IS NOT NULL;
CREATE INDEX rounds_release_finished_idx ON rounds (release_id, finished_at) INCLUDE (state, created_at, signed_at)
    WHERE finished_at IS NOT NULL;
-- A release page's latest rounds and jobs.
CREATE INDEX rounds_release_id_idx ON rounds (release_id, id);
CREATE INDEX changes_release_job_idx ON changes (release_id, job_id) WHERE job_id IS NOT NULL;
-- Open changes (queued or in a round) by release: the queue depth chart.
CREATE INDEX changes_open_idx ON changes (release_id, state) INCLUDE (round_id) WHERE state IN ('pending', 'in_round');

-- +goose Down
DROP TRIGGER rounds_count_hour ON rounds;
DROP FUNCTION rounds_count_hour();
DROP FUNCTION round_hours_record(bigint, text, timestamptz, timestamptz, timestamptz);
DROP FUNCTION round_hist_index(interval);
DROP TABLE round_hours;
DROP INDEX changes_open_idx;
DROP INDEX changes_release_job_idx;
DROP INDEX rounds_release_id_idx;
DROP INDEX rounds_release_finished_idx;
DROP INDEX rounds_finished_idx;
DROP TRIGGER rounds_finished_at ON rounds;
DROP FUNCTION rounds_set_finished_at();
ALTER TABLE rounds DROP COLUMN finished_at;
