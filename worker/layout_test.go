package worker

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/store"
)

// TestLayoutStoresWhatAptReads: a default release's round writes no
// by-hash/SHA512 object and no uncompressed Packages (flat or by-hash),
// while its Release lists Packages with MD5Sum and SHA256; a release with
// the "none" compression stores it. Every object carries the Cache-Control
// of its class.
func TestLayoutStoresWhatAptReads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	w.cfg.IndexMaxAge = 42 * time.Second
	w.cfg.Metrics = metrics.New()
	round := b.publish(t, w, "one")

	// The round's bytes: by-hash and flat Packages.gz of both indexes, the
	// pool file, Release, Release.gpg and InRelease.
	var want int64
	for _, f := range round.Files {
		if !f.ListedOnly {
			want += 2 * f.Size
		}
	}
	pool, err := b.store.RoundPoolFiles(b.ctx, round.ID)
	require.NoError(t, err)
	want += pool[0].Package.Size + int64(len(round.ReleaseBytes)+len(round.ReleaseGPG)+len(round.InRelease))
	require.NoError(t, testutil.GatherAndCompare(w.cfg.Metrics.Registry, strings.NewReader(fmt.Sprintf(`
# HELP aptq_round_upload_bytes Bytes a published round wrote to S3: by-hash and flat indexes, pool files, Release, Release.gpg, InRelease.
# TYPE aptq_round_upload_bytes histogram
aptq_round_upload_bytes_bucket{le="4096"} 0
aptq_round_upload_bytes_bucket{le="16384"} 1
aptq_round_upload_bytes_bucket{le="65536"} 1
aptq_round_upload_bytes_bucket{le="262144"} 1
aptq_round_upload_bytes_bucket{le="1.048576e+06"} 1
aptq_round_upload_bytes_bucket{le="4.194304e+06"} 1
aptq_round_upload_bytes_bucket{le="1.6777216e+07"} 1
aptq_round_upload_bytes_bucket{le="6.7108864e+07"} 1
aptq_round_upload_bytes_bucket{le="2.68435456e+08"} 1
aptq_round_upload_bytes_bucket{le="1.073741824e+09"} 1
aptq_round_upload_bytes_bucket{le="4.294967296e+09"} 1
aptq_round_upload_bytes_bucket{le="+Inf"} 1
aptq_round_upload_bytes_sum %d
aptq_round_upload_bytes_count 1
`, want)), "aptq_round_upload_bytes"))

	keys := b.keys(t, b.repo.Prefix)
	rel, err := apt.ParseRelease(round.ReleaseBytes)
	require.NoError(t, err)
	require.NotContains(t, string(round.ReleaseBytes), "SHA512")
	listed := map[string]apt.IndexFile{}
	for _, f := range rel.Files {
		require.NotEmpty(t, f.MD5, f.Path)
		require.NotEmpty(t, f.SHA256, f.Path)
		listed[f.Path] = f
	}
	for _, path := range []string{"main/binary-amd64/Packages", "main/binary-arm64/Packages"} {
		f, ok := listed[path]
		require.True(t, ok, "Release lists %s", path)
		require.NotContains(t, keys, distsKey(b.repo.Prefix, "stable", path))
		require.NotContains(t, keys, distsKey(b.repo.Prefix, "stable", apt.ByHashPath(path, "SHA256", f.SHA256)))
	}
	for _, k := range keys {
		require.NotContains(t, k, "/by-hash/SHA512/")
	}
	gz := listed["main/binary-amd64/Packages.gz"]
	immutable, short := "public, max-age=31536000, immutable", "public, max-age=42"
	for key, want := range map[string]string{
		b.repo.Prefix + apt.PoolPath("main", "one", "one", "1.0", "amd64"):              immutable,
		distsKey(b.repo.Prefix, "stable", apt.ByHashPath(gz.Path, "SHA256", gz.SHA256)): immutable,
		distsKey(b.repo.Prefix, "stable", gz.Path):                                      short,
		distsKey(b.repo.Prefix, "stable", "Release"):                                    short,
		distsKey(b.repo.Prefix, "stable", "Release.gpg"):                                short,
		distsKey(b.repo.Prefix, "stable", "InRelease"):                                  short,
	} {
		info, err := b.blob.Head(b.ctx, key)
		require.NoError(t, err, key)
		require.Equal(t, want, info.CacheControl, key)
	}

	b.release, err = b.store.CreateRelease(b.ctx, store.Release{RepositoryID: b.repo.ID, Name: "plain",
		Suite: "plain", Codename: "plain", Components: []string{"main"}, Architectures: []string{"amd64"},
		Compressions: []string{"none", "gz"}})
	require.NoError(t, err)
	round = b.publish(t, w, "two")
	var packages store.IndexFile
	for _, f := range round.Files {
		require.False(t, f.ListedOnly, f.Path)
		if f.Path == "main/binary-amd64/Packages" {
			packages = f
		}
	}
	require.NotEmpty(t, packages.SHA256)
	flat := b.read(t, distsKey(b.repo.Prefix, "plain", packages.Path))
	require.Contains(t, string(flat), "Package: two\n")
	require.Equal(t, flat, b.read(t, distsKey(b.repo.Prefix, "plain", apt.ByHashPath(packages.Path, "SHA256", packages.SHA256))))
	for _, k := range b.keys(t, distsKey(b.repo.Prefix, "plain", "")) {
		require.NotContains(t, k, "/by-hash/SHA512/")
	}
}

// TestOldLayoutGenerationMovesOn: a release whose last generation has the
// old layout (SHA512 in its rows, by-hash/SHA512 objects, the uncompressed
// Packages stored) is reconciled as that generation has it, moves to the
// new layout on its next round (the stale flat Packages goes, no SHA512 is
// recorded or demanded), and GC removes the SHA512 objects once no kept
// generation names them.
func TestOldLayoutGenerationMovesOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	first := b.oldLayout(t, b.publish(t, w, "one"))

	report, err := w.reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, "ok", report.Outcome, "%+v", report.Repairs)
	var amd64 store.IndexFile
	for _, f := range first.Files {
		if f.Path == "main/binary-amd64/Packages" {
			amd64 = f
		}
	}
	sha512Key := distsKey(b.repo.Prefix, "stable", apt.ByHashPath(amd64.Path, "SHA512", amd64.SHA512))
	require.NoError(t, b.blob.Delete(b.ctx, sha512Key))
	report, err = w.reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, "repaired 1 objects", report.Outcome, "%+v", report.Repairs)
	require.Equal(t, sha512Key, report.Repairs[0].Key)

	second := b.publish(t, w, "two") // amd64 changes, arm64 is reused
	files, err := b.store.ReleaseFiles(b.ctx, b.release.ID, second.Generation)
	require.NoError(t, err)
	for _, f := range files {
		require.Empty(t, f.SHA512, f.Path)
		require.Equal(t, f.Path == "main/binary-amd64/Packages", f.ListedOnly, f.Path)
	}
	keys := b.keys(t, b.repo.Prefix)
	require.NotContains(t, keys, distsKey(b.repo.Prefix, "stable", "main/binary-amd64/Packages"), "stale flat Packages deleted")
	require.Contains(t, keys, distsKey(b.repo.Prefix, "stable", "main/binary-arm64/Packages"), "unchanged index kept")

	report, err = w.reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, "ok", report.Outcome, "%+v", report.Repairs)
	require.Equal(t, keys, b.keys(t, b.repo.Prefix), "reconcile wrote nothing")

	w.cfg.KeepGenerations, w.cfg.GCGrace = 1, time.Nanosecond
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	for _, k := range b.keys(t, b.repo.Prefix) {
		require.NotContains(t, k, "/by-hash/SHA512/")
	}
	for _, f := range files {
		if !f.ListedOnly {
			b.read(t, distsKey(b.repo.Prefix, "stable", apt.ByHashPath(f.Path, "SHA256", f.SHA256)))
		}
	}
}

// oldLayout turns a published generation into what aptq wrote before it
// followed Debian's archive: every index file, the uncompressed one too,
// flat and under by-hash/SHA256 and by-hash/SHA512, and rows that record
// the SHA-512 and every file as stored (the round's and the generation's).
func (b *bundle) oldLayout(t *testing.T, round store.Round) store.Round {
	t.Helper()
	data := map[string][]byte{}
	for _, f := range round.Files {
		if !f.ListedOnly {
			data[f.Path] = b.read(t, distsKey(b.repo.Prefix, "stable", f.Path))
		}
	}
	for i, f := range round.Files {
		d, ok := data[f.Path]
		if !ok {
			d = []byte(gunzip(t, data[f.Path+".gz"]))
		}
		sum := sha512.Sum512(d)
		f.SHA512, f.ListedOnly = hex.EncodeToString(sum[:]), false
		for _, key := range []string{f.Path, apt.ByHashPath(f.Path, "SHA256", f.SHA256), apt.ByHashPath(f.Path, "SHA512", f.SHA512)} {
			_, err := b.blob.Put(b.ctx, distsKey(b.repo.Prefix, "stable", key), bytes.NewReader(d), int64(len(d)), blob.PutOptions{})
			require.NoError(t, err)
		}
		_, err := b.store.Pool.Exec(b.ctx, `UPDATE release_files SET sha512 = $4, listed_only = false
			WHERE release_id = $1 AND generation = $2 AND path = $3`, round.ReleaseID, round.Generation, f.Path, f.SHA512)
		require.NoError(t, err)
		round.Files[i] = f
	}
	files, err := json.Marshal(round.Files)
	require.NoError(t, err)
	_, err = b.store.Pool.Exec(b.ctx, `UPDATE rounds SET files = $2 WHERE id = $1`, round.ID, files)
	require.NoError(t, err)
	return round
}

// keys lists the object keys under prefix.
func (b *bundle) keys(t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	require.NoError(t, b.blob.List(b.ctx, prefix, func(i blob.Info) error {
		keys = append(keys, i.Key)
		return nil
	}))
	return keys
}

func gunzip(t *testing.T, data []byte) string {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(out)
}
