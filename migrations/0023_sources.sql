-- +goose Up
-- A file uploaded for a source package (orig or debian tarball, diff,
-- upstream signature): content-addressed per tenant like a package, its
-- blob beside the packages' (store.PackageBlobKey), counted in upload_bytes.
CREATE TABLE uploaded_files (
    tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sha256     text NOT NULL,
    sha512     text NOT NULL,
    sha1       text NOT NULL,
    md5        text NOT NULL,
    size       bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uploaded_files_pkey PRIMARY KEY (tenant_id, sha256)
);

-- The files a source package lists besides its .dsc (the packages row of
-- architecture 'source'); they live in the .dsc's pool directory.
CREATE TABLE source_files (
    package_id bigint NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    name       text NOT NULL,
    sha256     text NOT NULL,
    md5        text NOT NULL,
    size       bigint NOT NULL,
    CONSTRAINT source_files_pkey PRIMARY KEY (package_id, name)
);
CREATE INDEX source_files_name_idx ON source_files (name);

-- Claims a source file's pool path in a repository for one content: the
-- sources that share a file (two revisions of one upstream version share
-- the orig tarball) share it byte for byte, and other bytes are refused.
CREATE TABLE repository_pool_files (
    repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    filename      text NOT NULL,
    sha256        text NOT NULL,
    CONSTRAINT repository_pool_files_pkey PRIMARY KEY (repository_id, filename)
);

-- +goose Down
DROP TABLE repository_pool_files;
DROP TABLE source_files;
DROP TABLE uploaded_files;
