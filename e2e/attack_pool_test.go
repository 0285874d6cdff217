package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

// poolEnv is a repository with one release, its signing key, an apt client
// trusting it, and direct access to the S3 objects behind it.
type poolEnv struct {
	*bundle
	repo, key string
	s3        *blob.S3
	c         *client.Client
	signer    *sign.Signer
}

func newPoolEnv(t *testing.T, b *bundle, repo string) *poolEnv {
	t.Helper()
	key := b.repoWithKey(repo, "stable")
	armored, err := os.ReadFile(key)
	require.NoError(t, err)
	signer, err := sign.ParsePrivateKey(armored, nil)
	require.NoError(t, err)
	s3, _ := blobtest.New(t)
	return &poolEnv{bundle: b, repo: repo, key: key, s3: s3, c: client.New(b.URL, b.Token), signer: signer}
}

// object is the S3 key of a path of the repository.
func (e *poolEnv) object(path string) string { return e.Tenant + "/" + e.repo + "/" + path }

// public fetches a path of the repository as apt does, without a token.
func (e *poolEnv) public(t *testing.T, path string) ([]byte, int) {
	t.Helper()
	body, status, err := get(context.Background(), e.URL+"/apt/"+e.Tenant+"/"+e.repo+"/"+path)
	require.NoError(t, err)
	return body, status
}

func (e *poolEnv) inS3(t *testing.T, path string) bool {
	t.Helper()
	_, err := e.s3.Head(context.Background(), e.object(path))
	if err != nil {
		require.ErrorIs(t, err, blob.ErrNotFound)
	}
	return err == nil
}

// upload stores a .deb without adding it anywhere and returns its hash.
func (e *poolEnv) upload(ctx context.Context, t *testing.T, deb []byte) string {
	t.Helper()
	sum := sha256.Sum256(deb)
	_, err := e.c.UploadPackage(ctx, hex.EncodeToString(sum[:]), bytes.NewReader(deb), int64(len(deb)))
	require.NoError(t, err)
	return hex.EncodeToString(sum[:])
}

func (e *poolEnv) submit(ctx context.Context, t *testing.T, sha string) client.JobRef {
	t.Helper()
	ref, err := e.c.SubmitChange(ctx, e.repo, "stable", client.ChangeRequest{Adds: []client.Add{{SHA256: sha, Component: "main"}}})
	require.NoError(t, err)
	return ref
}

// TestAttackPoolEpochCollision: "pp 2.0-1" and "pp 1:2.0-1" share a pool
// path (the epoch is not part of it). Publishing the second with other
// content used to overwrite the first's published pool file, so apt got a
// hash mismatch. It is refused, naming the path; the file keeps the first's
// bytes and apt installs it.
func TestAttackPoolEpochCollision(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := newPoolEnv(t, b, "epoch")
	debA := writeDeb(t, b.dir, debtest.Options{Package: "pp", Version: "2.0-1", Architecture: "amd64"})
	debB := writeDeb(t, b.dir, debtest.Options{Package: "pp", Version: "1:2.0-1", Architecture: "amd64", Depends: "base-files"})
	b.mustCLI("pkg", "add", "--repo", "epoch", "--release", "stable", "--key", e.key, debA)
	a, err := os.ReadFile(debA)
	require.NoError(t, err)
	const poolPath = "pool/main/p/pp/pp_2.0-1_amd64.deb"
	got, status := e.public(t, poolPath)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, a, got)

	out, errOut, code := b.cli(context.Background(), "pkg", "add", "--repo", "epoch", "--release", "stable", "--key", e.key, debB)
	require.NotEqual(t, 0, code, "stdout: %s", out)
	require.Contains(t, errOut, "package_conflict")
	require.Contains(t, errOut, poolPath)

	got, status = e.public(t, poolPath)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, a, got, "the published pool file keeps its bytes")
	var jobs struct {
		Jobs []struct{} `json:"jobs"`
	}
	require.Equal(t, http.StatusOK, b.api(t, http.MethodGet, "/v1/jobs?repo=epoch", nil, &jobs))
	require.Len(t, jobs.Jobs, 1, "the refused change was never recorded")

	pub, err := os.ReadFile(pubKeyFile(e.key))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/epoch", "stable", "main", string(pub))
	apt.run("update")
	apt.run("install", "-y", "--download-only", "pp")
	fetched, err := os.ReadFile(filepath.Join(apt.Dir, "archives", "pp_2.0-1_amd64.deb"))
	require.NoError(t, err)
	require.Equal(t, a, fetched, "apt's hash check passed on the bytes the index names")
}

// TestAttackPoolEmbargo: a change accepted and then cancelled never makes
// its package public: its pool path is a 404 on /apt/ and absent from S3.
// Published later, it is readable. And a change that failed, whose pool
// file garbage collection had removed, publishes on `job retry` with its
// pool file back, so apt downloads it.
func TestAttackPoolEmbargo(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_SIGNATURE_TIMEOUT=4s"}})
	e := newPoolEnv(t, b, "emb")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	secret := debtest.Build(t, debtest.Options{Package: "secret", Version: "1.0", Architecture: "amd64"})
	const secretPath = "pool/main/s/secret/secret_1.0_amd64.deb"
	ref := e.submit(ctx, t, e.upload(ctx, t, secret))
	for job := (client.Job{}); !job.Round.AwaitsSignature(); {
		var err error
		job, err = e.c.GetJob(ctx, ref.JobID, 30*time.Second, job.State)
		require.NoError(t, err)
		require.False(t, job.Done(), "%+v", job)
	}
	_, status := e.public(t, secretPath)
	require.Equal(t, http.StatusNotFound, status, "accepted, in a round awaiting its signature")
	require.False(t, e.inS3(t, secretPath))
	b.mustCLI("job", "cancel", fmt.Sprint(ref.JobID))
	_, status = e.public(t, secretPath)
	require.Equal(t, http.StatusNotFound, status, "cancelled")
	require.False(t, e.inS3(t, secretPath))

	secretFile := filepath.Join(b.dir, "secret.deb")
	require.NoError(t, os.WriteFile(secretFile, secret, 0o644))
	b.mustCLI("pkg", "add", "--repo", "emb", "--release", "stable", "--key", e.key, secretFile)
	got, status := e.public(t, secretPath)
	require.Equal(t, http.StatusOK, status, "published")
	require.Equal(t, secret, got)

	// Removed; a change adding it back fails unsigned; meanwhile garbage
	// collection deletes the removed package's pool file (here directly, as
	// GC does past its grace period). The retry publishes it with the pool
	// file back.
	b.mustCLI("pkg", "remove", "--repo", "emb", "--release", "stable", "--key", e.key, "secret=1.0:amd64")
	failed := e.submit(ctx, t, e.upload(ctx, t, secret))
	job := waitForEnd(ctx, t, e.c, failed.JobID)
	require.Equal(t, client.JobFailed, job.State)
	require.NoError(t, e.s3.Delete(ctx, e.object(secretPath)))

	var retried client.JobRef
	require.Equal(t, http.StatusAccepted, b.api(t, http.MethodPost, fmt.Sprintf("/v1/jobs/%d/retry", failed.JobID), nil, &retried))
	follow(ctx, t, e.c, retried.JobID, e.signer)
	pub, err := os.ReadFile(pubKeyFile(e.key))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/emb", "stable", "main", string(pub))
	apt.run("update")
	apt.run("install", "-y", "--download-only", "secret")
	fetched, err := os.ReadFile(filepath.Join(apt.Dir, "archives", "secret_1.0_amd64.deb"))
	require.NoError(t, err)
	require.Equal(t, secret, fetched)
}

// TestAttackPoolReconcile: reconcile reports a pool file overwritten behind
// aptq's back (never overwriting it in turn) and restores a deleted one
// from the uploaded package, after which apt installs it again.
func TestAttackPoolReconcile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := newPoolEnv(t, b, "recp")
	ctx := context.Background()
	gone := writeDeb(t, b.dir, debtest.Options{Package: "gone", Version: "1.0", Architecture: "amd64"})
	swapped := writeDeb(t, b.dir, debtest.Options{Package: "swapped", Version: "1.0", Architecture: "amd64"})
	b.mustCLI("pkg", "add", "--repo", "recp", "--release", "stable", "--key", e.key, gone, swapped)
	const gonePath, swappedPath = "pool/main/g/gone/gone_1.0_amd64.deb", "pool/main/s/swapped/swapped_1.0_amd64.deb"
	goneBytes, err := os.ReadFile(gone)
	require.NoError(t, err)

	require.NoError(t, e.s3.Delete(ctx, e.object(gonePath)))
	evil := []byte("#!/bin/sh\necho owned\n")
	_, err = e.s3.Put(ctx, e.object(swappedPath), bytes.NewReader(evil), int64(len(evil)), blob.PutOptions{})
	require.NoError(t, err)

	out := b.mustCLI("release", "reconcile", "--repo", "recp", "--release", "stable")
	require.Contains(t, out, "repaired 1 objects; 1 pool files differ from their packages (not repaired)")
	require.Contains(t, out, gonePath+": missing")
	require.Contains(t, out, swappedPath+": content differs")

	got, status := e.public(t, gonePath)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, goneBytes, got)
	got, _ = e.public(t, swappedPath)
	require.Equal(t, evil, got, "reported, not overwritten")

	pub, err := os.ReadFile(pubKeyFile(e.key))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/recp", "stable", "main", string(pub))
	apt.run("update")
	apt.run("install", "-y", "--download-only", "gone")
}
