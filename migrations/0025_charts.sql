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
DROP INDEX changes_open_idx;
DROP INDEX changes_release_job_idx;
DROP INDEX rounds_release_id_idx;
DROP INDEX rounds_release_finished_idx;
DROP INDEX rounds_finished_idx;
DROP TRIGGER rounds_finished_at ON rounds;
DROP FUNCTION rounds_set_finished_at();
ALTER TABLE rounds DROP COLUMN finished_at;
