-- +goose Up

-- The lease: at most one worker acts for a release. token comes from a sequence,
-- so a later holder always has a larger token; commits check it (fencing).
CREATE SEQUENCE lease_token_seq;
CREATE TABLE release_leases (
    release_id bigint PRIMARY KEY REFERENCES releases (id) ON DELETE CASCADE,
    holder     text NOT NULL,
    token      bigint NOT NULL,
    expires_at timestamptz NOT NULL
);

-- One publish of a release. state: awaiting_signature → signed → committed → published, or failed.
CREATE TABLE rounds (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    release_id         bigint NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    generation         bigint NOT NULL,
    state              text NOT NULL,
    release_date       timestamptz NOT NULL,
    release_bytes      bytea NOT NULL,
    -- Every index file Release lists: [{path,size,md5,sha1,sha256,sha512}].
    files              jsonb NOT NULL,
    signature_deadline timestamptz NOT NULL,
    inrelease          bytea,
    release_gpg        bytea,
    signers            text[],
    error_code         text,
    error_message      text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    signed_at          timestamptz,
    committed_at       timestamptz,
    published_at       timestamptz,
    CONSTRAINT rounds_state_check CHECK (state IN ('awaiting_signature', 'signed', 'committed', 'published', 'failed'))
);
-- Only one live round per release; a committed generation is unique.
CREATE UNIQUE INDEX rounds_release_open_idx ON rounds (release_id) WHERE state IN ('awaiting_signature', 'signed', 'committed');
CREATE UNIQUE INDEX rounds_release_generation_idx ON rounds (release_id, generation) WHERE state IN ('committed', 'published');

-- One requested index change. state: pending → in_round → published, or failed / cancelled.
CREATE TABLE changes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    release_id    bigint NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    job_id        bigint,
    state         text NOT NULL DEFAULT 'pending',
    round_id      bigint REFERENCES rounds (id),
    -- adds: [{package_id, component}], removes: [{name, version, architecture, component}]
    adds          jsonb NOT NULL DEFAULT '[]',
    removes       jsonb NOT NULL DEFAULT '[]',
    error_code    text,
    error_message text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT changes_state_check CHECK (state IN ('pending', 'in_round', 'published', 'failed', 'cancelled'))
);
CREATE UNIQUE INDEX changes_job_id_idx ON changes (job_id);
CREATE INDEX changes_release_pending_idx ON changes (release_id, id) WHERE state = 'pending';
CREATE INDEX changes_round_id_idx ON changes (round_id);

-- The index files of every committed generation (for Release reuse, reconcile and GC).
CREATE TABLE release_files (
    release_id bigint NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    generation bigint NOT NULL,
    path       text NOT NULL,
    size       bigint NOT NULL,
    md5        text NOT NULL,
    sha1       text NOT NULL,
    sha256     text NOT NULL,
    sha512     text NOT NULL,
    CONSTRAINT release_files_pkey PRIMARY KEY (release_id, generation, path)
);

-- +goose Down
DROP TABLE release_files;
DROP TABLE changes;
DROP TABLE rounds;
DROP TABLE release_leases;
DROP SEQUENCE lease_token_seq;
