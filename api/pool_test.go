package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
)

// countingBlob counts the calls that reach the object store.
type countingBlob struct {
	blob.Blob
	calls, heads atomic.Int64
}

func (c *countingBlob) Get(ctx context.Context, key, rng string) (io.ReadCloser, blob.Info, error) {
	c.calls.Add(1)
	return c.Blob.Get(ctx, key, rng)
}

func (c *countingBlob) Open(ctx context.Context, key string, opts blob.GetOptions) (io.ReadCloser, blob.Info, error) {
	c.calls.Add(1)
	return c.Blob.Open(ctx, key, opts)
}

func (c *countingBlob) Head(ctx context.Context, key string) (blob.Info, error) {
	c.calls.Add(1)
	c.heads.Add(1)
	return c.Blob.Head(ctx, key)
}

// aptGet fetches /apt/<tenant>/<rest> without a token, as apt does.
func (b *bundle) aptGet(rest string) (int, []byte) {
	b.t.Helper()
	resp, err := http.Get(b.server.URL + "/apt/" + b.tenant.Name + "/" + rest)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, body
}

// repoWithRelease creates repository r with release stable and returns it.
func (b *bundle) repoWithRelease() store.Repository {
	b.t.Helper()
	require.Equal(b.t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(b.t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "stable", "architectures": []string{"amd64"}}, nil))
	repo, err := b.store.RepositoryByPath(context.Background(), b.tenant.Name, "r")
	require.NoError(b.t, err)
	return repo
}

// TestServeAPTRefusesBadKeys: control characters, invalid UTF-8 and names
// no S3 server stores in an /apt/ path are a 404 at once, without a request
// to S3 (which answers them with errors, retried into a 500).
func TestServeAPTRefusesBadKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	counter := &countingBlob{Blob: b.api.blob}
	b.api.blob = counter
	repo := b.repoWithRelease()
	ok := []byte("Origin: test\n")
	_, err := counter.Put(t.Context(), repo.Prefix+"dists/stable/Release", bytes.NewReader(ok), int64(len(ok)), blob.PutOptions{})
	require.NoError(t, err)

	for _, rest := range []string{
		"r/dists/stable/Rel%00ease", "r/dists/stable/Release%0A", "r/dists/stable/%0D%0AX-Injected:%201",
		"r/dists/stable/Rel%7Fease", "r/dists/stable/%FF%FE", "r/dists/stable/%C2%85", "r/dists/stable/%1B[2J",
		"r/pool/main/x/x/x%00.deb", "r/pool/main/x/x/" + strings.Repeat("v", 300) + ".deb",
		"r/dists/" + strings.Repeat("a/", 520) + "Release",
	} {
		status, _ := b.aptGet(rest)
		require.Equal(t, http.StatusNotFound, status, rest)
	}
	require.Zero(t, counter.calls.Load(), "no request reached S3")

	status, body := b.aptGet("r/dists/stable/Release")
	require.Equal(t, http.StatusOK, status, "the server is still up")
	require.Equal(t, ok, body)
}

// TestServeAPTPoolEmbargo: a pool file is served only while a committed
// generation names it (or removed it recently); one placed for a change
// that is not committed is a 404 even though the object exists.
func TestServeAPTPoolEmbargo(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	ctx := t.Context()
	repo := b.repoWithRelease()
	deb := debtest.Build(t, debtest.Options{Package: "emb", Version: "1.0", Architecture: "amd64"})
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil))
	p, err := b.store.PackageBySHA256(ctx, b.tenant.ID, sha256Hex(deb))
	require.NoError(t, err)
	filename := apt.PoolPath("main", p.Source, p.Name, p.Version, p.Architecture)
	_, err = b.api.blob.Put(ctx, repo.Prefix+filename, bytes.NewReader(deb), int64(len(deb)), blob.PutOptions{})
	require.NoError(t, err)

	status, _ := b.aptGet("r/" + filename)
	require.Equal(t, http.StatusNotFound, status, "no committed generation names it")

	rel, err := b.store.Release(ctx, repo.ID, "stable")
	require.NoError(t, err)
	_, err = b.store.Pool.Exec(ctx, `INSERT INTO release_packages (release_id, component, package_id, filename)
		VALUES ($1, 'main', $2, $3)`, rel.ID, p.ID, filename)
	require.NoError(t, err)
	status, body := b.aptGet("r/" + filename)
	require.Equal(t, http.StatusOK, status, "committed")
	require.Equal(t, deb, body)

	_, err = b.store.Pool.Exec(ctx, `WITH gone AS (DELETE FROM release_packages WHERE release_id = $1 RETURNING filename)
		INSERT INTO pool_removals (repository_id, filename) SELECT $2, filename FROM gone`, rel.ID, repo.ID)
	require.NoError(t, err)
	status, _ = b.aptGet("r/" + filename)
	require.Equal(t, http.StatusOK, status, "removed: still there for readers of the generation before")

	// Another repository of the tenant does not lend its generations.
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "other"}, nil))
	other, err := b.store.RepositoryByPath(ctx, b.tenant.Name, "other")
	require.NoError(t, err)
	_, err = b.api.blob.Put(ctx, other.Prefix+filename, bytes.NewReader(deb), int64(len(deb)), blob.PutOptions{})
	require.NoError(t, err)
	status, _ = b.aptGet("other/" + filename)
	require.Equal(t, http.StatusNotFound, status)
}

// TestChangeClaimsAtomic: the claims of a change stand or fall with it. A
// change refused after some of its packages were claimed (a pool path taken
// by other content, the package quota reached) leaves no claim and no count
// behind; a package whose pool path S3 cannot hold is refused before any;
// a retry claims too.
func TestChangeClaimsAtomic(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	ctx := t.Context()
	repo := b.repoWithRelease()
	upload := func(o debtest.Options) string {
		deb := debtest.Build(t, o)
		var e ErrorBody
		require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, &e), "%+v", e)
		return sha256Hex(deb)
	}
	adds := func(shas ...string) map[string]any {
		var a []map[string]string
		for _, s := range shas {
			a = append(a, map[string]string{"sha256": s, "component": "main"})
		}
		return map[string]any{"adds": a}
	}
	path := "/v1/repos/r/releases/stable/changes"
	claimed := func() (claims, pool, counted int) {
		require.NoError(t, b.store.Pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM repository_packages WHERE repository_id = $1),
			(SELECT count(*) FROM repository_pool WHERE repository_id = $1),
			(SELECT packages FROM repositories WHERE id = $1)`, repo.ID).Scan(&claims, &pool, &counted))
		return claims, pool, counted
	}

	plain := upload(debtest.Options{Package: "pp", Version: "2.0-1", Architecture: "amd64"})
	epoch := upload(debtest.Options{Package: "pp", Version: "1:2.0-1", Architecture: "amd64", Depends: "libc6"})
	fresh := upload(debtest.Options{Package: "fresh", Version: "1.0", Architecture: "amd64"})
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, path, adds(plain), nil))

	// Same pool path, other content: refused, naming the path.
	e := b.expectError(http.MethodPost, path, adds(fresh, epoch), 409, "package_conflict")
	require.Equal(t, "pool/main/p/pp/pp_2.0-1_amd64.deb", e.Details["filename"])
	require.Equal(t, plain, e.Details["existing_sha256"])
	require.Contains(t, e.Message, "pool/main/p/pp/pp_2.0-1_amd64.deb")
	claims, pool, counted := claimed()
	require.Equal(t, []int{1, 1, 1}, []int{claims, pool, counted}, "fresh, claimed first, is not left claimed")
	require.Equal(t, 1, b.count("changes"))

	// The package quota reached by the second add: nothing of the first stays.
	_, err := b.store.Pool.Exec(ctx, `UPDATE repositories SET max_packages = 2 WHERE id = $1`, repo.ID)
	require.NoError(t, err)
	other := upload(debtest.Options{Package: "other", Version: "1.0", Architecture: "amd64"})
	e = b.expectError(http.MethodPost, path, adds(fresh, other), 422, "quota_exceeded")
	require.Equal(t, "packages_per_repository", e.Details["limit"])
	claims, pool, counted = claimed()
	require.Equal(t, []int{1, 1, 1}, []int{claims, pool, counted})

	// A version whose pool path no S3 server stores.
	long, _, err := b.store.InsertPackage(ctx, store.Package{TenantID: b.tenant.ID, SHA256: sha256Hex([]byte("long")),
		SHA512: "x", SHA1: "x", MD5: "x", Size: 1, Name: "long", Version: "1." + strings.Repeat("9", 5000),
		Architecture: "amd64", Source: "long", Control: "Package: long\n"})
	require.NoError(t, err)
	e = b.expectError(http.MethodPost, path, adds(fresh, long.SHA256), 422, "invalid")
	require.Equal(t, "adds[1].sha256", e.Details["field"])
	claims, pool, counted = claimed()
	require.Equal(t, []int{1, 1, 1}, []int{claims, pool, counted})
	require.Equal(t, 1, b.count("changes"))
	require.Equal(t, 1, b.count("river_job"))

	// A change recorded before pool paths were claimed (here: inserted
	// directly), naming the epoch package at the first's path, failed; its
	// retry is refused rather than placed over the published file.
	epochPkg, err := b.store.PackageBySHA256(ctx, b.tenant.ID, epoch)
	require.NoError(t, err)
	rel, err := b.store.Release(ctx, repo.ID, "stable")
	require.NoError(t, err)
	legacy, err := b.store.InsertChange(ctx, b.store.Pool, rel.ID, nil, []store.ChangeAdd{{PackageID: epochPkg.ID,
		Component: "main", Architecture: "amd64", Filename: "pool/main/p/pp/pp_2.0-1_amd64.deb"}}, nil)
	require.NoError(t, err)
	_, err = b.store.Pool.Exec(ctx, `UPDATE changes SET state = 'failed', job_id = 999999 WHERE id = $1`, legacy.ID)
	require.NoError(t, err)
	e = b.expectError(http.MethodPost, "/v1/jobs/999999/retry", nil, 409, "package_conflict")
	require.Equal(t, "pool/main/p/pp/pp_2.0-1_amd64.deb", e.Details["filename"])
	claims, pool, counted = claimed()
	require.Equal(t, []int{1, 1, 1}, []int{claims, pool, counted})
	require.Equal(t, 2, b.count("changes"))

	// The same content at the same path again is no conflict.
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, path, adds(plain, fresh), nil))
	claims, pool, counted = claimed()
	require.Equal(t, []int{2, 2, 2}, []int{claims, pool, counted})
}
