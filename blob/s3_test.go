package blob_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// put stores content under key and returns its Info.
func put(t testing.TB, b blob.Blob, key, content string) blob.Info {
	t.Helper()
	info, err := b.Put(t.Context(), key, strings.NewReader(content), int64(len(content)), blob.PutOptions{})
	require.NoError(t, err)
	return info
}

// get reads key whole.
func get(t testing.TB, b blob.Blob, key string) ([]byte, blob.Info) {
	t.Helper()
	body, info, err := b.Get(t.Context(), key, "")
	require.NoError(t, err)
	defer body.Close()
	data, err := io.ReadAll(body)
	require.NoError(t, err)
	return data, info
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s, prefix := blobtest.New(t)
	ctx := t.Context()
	key := prefix + "dists/stable/Release"
	content := []byte("Origin: aptq\n")

	info, err := s.Put(ctx, key, bytes.NewReader(content), int64(len(content)), blob.PutOptions{ContentType: "text/plain"})
	require.NoError(t, err)
	require.Equal(t, blob.Info{Key: key, Size: int64(len(content)), ETag: md5hex(content), ContentType: "text/plain"}, info,
		"versitygw keeps ETag = MD5 of the content for a single-part PUT")

	head, err := s.Head(ctx, key)
	require.NoError(t, err)
	require.Equal(t, info.ETag, head.ETag)
	require.Equal(t, info.Size, head.Size)
	require.Equal(t, "text/plain", head.ContentType)
	require.False(t, head.LastModified.IsZero())

	data, got := get(t, s, key)
	require.Equal(t, content, data)
	require.Equal(t, head, got)

	var listed []blob.Info
	require.NoError(t, s.List(ctx, prefix, func(i blob.Info) error { listed = append(listed, i); return nil }))
	require.Len(t, listed, 1)
	require.Equal(t, key, listed[0].Key)
	require.Equal(t, info.ETag, listed[0].ETag)
	require.Equal(t, info.Size, listed[0].Size)

	require.NoError(t, s.Delete(ctx, key))
	_, err = s.Head(ctx, key)
	require.ErrorIs(t, err, blob.ErrNotFound)
	require.NoError(t, s.Delete(ctx, key), "deleting a missing key is not an error")
}

// TestPutKnownSHA256: a body sent with the digest the caller knows is
// stored; one that does not match it is refused and stores nothing, so the
// request was signed with the caller's digest, not one the SDK computed.
func TestPutKnownSHA256(t *testing.T) {
	t.Parallel()
	s, prefix := blobtest.New(t)
	ctx := t.Context()
	content := []byte("Package: hello\n\n")
	sum := sha256.Sum256(content)
	key := prefix + "by-hash/SHA256/" + hex.EncodeToString(sum[:])
	_, err := s.Put(ctx, key, bytes.NewReader(content), int64(len(content)), blob.PutOptions{IfNoneMatch: true, SHA256: hex.EncodeToString(sum[:])})
	require.NoError(t, err)
	data, _ := get(t, s, key)
	require.Equal(t, content, data)

	other := prefix + "other"
	_, err = s.Put(ctx, other, bytes.NewReader([]byte("something else")), 14, blob.PutOptions{SHA256: hex.EncodeToString(sum[:])})
	require.Error(t, err)
	_, err = s.Head(ctx, other)
	require.ErrorIs(t, err, blob.ErrNotFound)
}

func TestMissingKey(t *testing.T) {
	t.Parallel()
	s, prefix := blobtest.New(t)
	ctx := t.Context()
	key := prefix + "missing"

	_, _, err := s.Get(ctx, key, "")
	require.ErrorIs(t, err, blob.ErrNotFound)
	_, _, err = s.Get(ctx, key, "bytes=0-9")
	require.ErrorIs(t, err, blob.ErrNotFound)
	_, err = s.Head(ctx, key)
	require.ErrorIs(t, err, blob.ErrNotFound)
	_, err = s.Copy(ctx, key, prefix+"dst")
	require.ErrorIs(t, err, blob.ErrNotFound)
	require.NoError(t, s.Delete(ctx, key))
}

func TestGetRange(t *testing.T) {
	t.Parallel()
	s, prefix := blobtest.New(t)
	key := prefix + "abc"
	const content = "0123456789abcdefghijklmnopqrstuvwxyz"
	stored := put(t, s, key, content)

	tests := []struct {
		byteRange string
		want      string
	}{
		{byteRange: "", want: content},
		{byteRange: "bytes=0-9", want: "0123456789"},
		{byteRange: "bytes=10-12", want: "abc"},
		{byteRange: "bytes=30-", want: "uvwxyz"},
		{byteRange: "bytes=-3", want: "xyz"},
		{byteRange: "bytes=30-999", want: "uvwxyz"},
	}
	for _, tt := range tests {
		t.Run(tt.byteRange, func(t *testing.T) {
			t.Parallel()
			body, info, err := s.Get(t.Context(), key, tt.byteRange)
			require.NoError(t, err)
			defer body.Close()
			data, err := io.ReadAll(body)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(data))
			require.Equal(t, int64(len(content)), info.Size, "Size is the whole object's")
			require.Equal(t, stored.ETag, info.ETag)
		})
	}

	_, _, err := s.Get(t.Context(), key, "bytes=100-200")
	require.Error(t, err, "a range past the end is unsatisfiable")
	require.NotErrorIs(t, err, blob.ErrNotFound)
}

func TestCopy(t *testing.T) {
	t.Parallel()
	s, prefix := blobtest.New(t)
	ctx := t.Context()
	// Keys with characters that need escaping in x-amz-copy-source.
	src := prefix + "pool/main/h/hello world/hello_1.0+b1~rc%1&x=y;z_amd64.deb"
	dst := prefix + "copy/ü/hello.deb"
	content := []byte("not really a deb")
	_, err := s.Put(ctx, src, bytes.NewReader(content), int64(len(content)),
		blob.PutOptions{ContentType: "application/vnd.debian.binary-package"})
	require.NoError(t, err)

	info, err := s.Copy(ctx, src, dst)
	require.NoError(t, err)
	require.Equal(t, dst, info.Key)
	require.Equal(t, md5hex(content), info.ETag)
	require.Equal(t, int64(len(content)), info.Size)
	require.Equal(t, "application/vnd.debian.binary-package", info.ContentType)
	require.False(t, info.LastModified.IsZero())

	data, got := get(t, s, dst)
	require.Equal(t, content, data)
	require.Equal(t, info.ETag, got.ETag)
	require.Equal(t, info.ContentType, got.ContentType)
}

func TestList(t *testing.T) {
	t.Parallel()
	s, prefix := blobtest.New(t)
	ctx := t.Context()
	// More keys than one ListObjectsV2 page (1000) holds.
	const n = 1100
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			content := fmt.Sprint(i)
			_, err := s.Put(gctx, fmt.Sprintf("%sdir/%04d", prefix, i), strings.NewReader(content), int64(len(content)), blob.PutOptions{})
			return err
		})
	}
	require.NoError(t, g.Wait())
	put(t, s, prefix+"other/x", "x")

	var keys []string
	require.NoError(t, s.List(ctx, prefix+"dir/", func(i blob.Info) error {
		require.Equal(t, int64(len(fmt.Sprint(len(keys)))), i.Size)
		keys = append(keys, i.Key)
		return nil
	}))
	require.Len(t, keys, n)
	require.IsIncreasing(t, keys)

	stop := errors.New("stop")
	seen := 0
	err := s.List(ctx, prefix, func(blob.Info) error { seen++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, seen)

	require.NoError(t, s.List(ctx, prefix+"nothing/", func(blob.Info) error { return errors.New("called") }))
}

func TestPing(t *testing.T) {
	t.Parallel()
	s, _ := blobtest.New(t)
	require.NoError(t, s.Ping(t.Context()))

	cfg := blobtest.Config(t)
	cfg.Bucket = "aptq-no-such-bucket"
	missing, err := blob.NewS3(t.Context(), cfg)
	require.NoError(t, err)
	require.ErrorIs(t, missing.Ping(t.Context()), blob.ErrNotFound)

	cfg = blobtest.Config(t)
	cfg.SecretKey = "wrong"
	denied, err := blob.NewS3(t.Context(), cfg)
	require.NoError(t, err)
	err = denied.Ping(t.Context())
	require.Error(t, err)
	require.NotErrorIs(t, err, blob.ErrNotFound)
}

func TestNewS3Validates(t *testing.T) {
	t.Parallel()
	valid := blob.Config{Endpoint: "http://127.0.0.1:1", Region: "us-east-1", Bucket: "b", AccessKey: "a", SecretKey: "s"}
	tests := []struct {
		name   string
		modify func(*blob.Config)
		ok     bool
	}{
		{name: "valid", modify: func(*blob.Config) {}, ok: true},
		{name: "AWS endpoint", modify: func(c *blob.Config) { c.Endpoint = "" }, ok: true},
		{name: "no bucket", modify: func(c *blob.Config) { c.Bucket = "" }},
		{name: "no region", modify: func(c *blob.Config) { c.Region = "" }},
		{name: "no access key", modify: func(c *blob.Config) { c.AccessKey = "" }},
		{name: "no secret key", modify: func(c *blob.Config) { c.SecretKey = "" }},
		{name: "part size too small", modify: func(c *blob.Config) { c.PartSize = 1 << 20 }},
		{name: "part size 5 MiB", modify: func(c *blob.Config) { c.PartSize = 5 << 20 }, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.modify(&cfg)
			_, err := blob.NewS3(context.Background(), cfg)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}
