-- +goose Up
CREATE TABLE repositories (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text NOT NULL,
    -- Objects of the repository live under this key prefix of the server's bucket.
    prefix     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT repositories_tenant_name_key UNIQUE (tenant_id, name),
    CONSTRAINT repositories_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$')
);

CREATE TABLE signing_keys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    fingerprint   text NOT NULL,
    armored       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT signing_keys_repository_fingerprint_key UNIQUE (repository_id, fingerprint)
);

CREATE TABLE releases (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository_id        bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name                 text NOT NULL,
    origin               text NOT NULL DEFAULT '',
    label                text NOT NULL DEFAULT '',
    suite                text NOT NULL DEFAULT '',
    codename             text NOT NULL DEFAULT '',
    version              text NOT NULL DEFAULT '',
    description          text NOT NULL DEFAULT '',
    components           text[] NOT NULL,
    architectures        text[] NOT NULL,
    compressions         text[] NOT NULL DEFAULT '{gz,xz}',
    -- The last committed generation, its Release Date, and the InRelease ETag
    -- the next upload must match (NULL: no InRelease uploaded yet).
    generation           bigint NOT NULL DEFAULT 0,
    release_date         timestamptz,
    inrelease_etag       text,
    published_generation bigint NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT releases_repository_name_key UNIQUE (repository_id, name),
    CONSTRAINT releases_name_check CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    CONSTRAINT releases_components_check CHECK (cardinality(components) > 0),
    CONSTRAINT releases_architectures_check CHECK (cardinality(architectures) > 0),
    CONSTRAINT releases_generation_check CHECK (generation >= 0 AND published_generation <= generation)
);

-- An uploaded .deb, content-addressed, owned by a tenant. The blob lives at
-- _packages/<tenant id>/<sha256>; adding it to a component copies it to its pool path.
CREATE TABLE packages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sha256       text NOT NULL,
    sha512       text NOT NULL,
    sha1         text NOT NULL,
    md5          text NOT NULL,
    size         bigint NOT NULL,
    name         text NOT NULL,
    version      text NOT NULL,
    architecture text NOT NULL,
    source       text NOT NULL,
    control      text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT packages_tenant_sha256_key UNIQUE (tenant_id, sha256)
);

-- Claims (name, version, arch) in a repository for one content: the pool path
-- is derived from them, so two contents must never share it.
CREATE TABLE repository_packages (
    repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          text NOT NULL,
    version       text NOT NULL,
    architecture  text NOT NULL,
    package_id    bigint NOT NULL REFERENCES packages (id),
    CONSTRAINT repository_packages_pkey PRIMARY KEY (repository_id, name, version, architecture)
);

-- Membership of the last committed generation.
CREATE TABLE release_packages (
    release_id bigint NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    component  text NOT NULL,
    package_id bigint NOT NULL REFERENCES packages (id),
    filename   text NOT NULL,
    CONSTRAINT release_packages_pkey PRIMARY KEY (release_id, component, package_id)
);

-- +goose Down
DROP TABLE release_packages;
DROP TABLE repository_packages;
DROP TABLE packages;
DROP TABLE releases;
DROP TABLE signing_keys;
DROP TABLE repositories;
