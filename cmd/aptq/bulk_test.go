package main

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestChangeBatches(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		files int
		want  []int
	}{
		{0, nil},
		{1, []int{1}},
		{999, []int{999}},
		{1000, []int{1000}},
		{1001, []int{1000, 1}},
		{2500, []int{1000, 1000, 500}},
		{10000, []int{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}},
	} {
		files := make([]*bulkFile, tt.files)
		for i := range files {
			files[i] = &bulkFile{bulkItem: bulkItem{Label: fmt.Sprint(i)}}
		}
		batches := changeBatches(files, maxChangeAdds)
		var sizes []int
		var order []*bulkFile
		for _, b := range batches {
			sizes = append(sizes, len(b))
			order = append(order, b...)
		}
		require.Equal(t, tt.want, sizes, "%d files", tt.files)
		if tt.files > 0 {
			require.Equal(t, files, order, "every file once, in the order given")
		}
	}
}

func TestChangeBatchesSkipFailedAndRepeated(t *testing.T) {
	t.Parallel()
	files := make([]*bulkFile, 1003)
	for i := range files {
		files[i] = &bulkFile{bulkItem: bulkItem{Label: fmt.Sprint(i)}}
	}
	files[0].fail(stageUpload, fmt.Errorf("refused"))
	files[1].dup = files[2]
	batches := changeBatches(files, maxChangeAdds)
	require.Len(t, batches, 2)
	require.Len(t, batches[0], 1000)
	require.Len(t, batches[1], 1)
	require.Same(t, files[2], batches[0][0])
	require.Same(t, files[1002], batches[1][0])
}

// TestPkgAddRefusesTwoContentsOfOneVersion: the server would refuse the
// second content of a package version after both were uploaded; the CLI
// refuses it before uploading either. Repeats of one file are published once.
func TestPkgAddRefusesTwoContentsOfOneVersion(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	first, _ := b.deb(t, "hello_1.0_amd64.deb", "one build")
	second, _ := b.deb(t, "hello_1.0_amd64-rebuilt.deb", "another build")
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, first, second)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: invalid: "+second+": "+first+" is also hello 1.0-1 amd64 with other content")
	require.Empty(t, b.api.snapshot().uploaded)

	res = runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, first, first)
	require.Equal(t, exitOK, res.code, res.stderr)
	seen := b.api.snapshot()
	require.Len(t, seen.uploaded, 1)
	require.Len(t, seen.changes, 1)
	require.Len(t, seen.changes[0].Adds, 1, "a repeated file is added once")
}

// TestBulkProgress: many uploads are one live line on a terminal (files,
// bytes, rate, failures), and one line per file elsewhere, with failures
// everywhere.
func TestBulkProgress(t *testing.T) {
	t.Parallel()
	u, buf := ttyUI()
	p := u.BulkUpload(3, 3<<20)
	require.Contains(t, buf.String(), "\r\x1b[Kuploading 0/3 files  0 B/3.0 MiB")
	_, err := io.Copy(io.Discard, p.reader(io.LimitReader(zeros{}, 1<<20)))
	require.NoError(t, err)
	p.Done("a.deb", 1<<20, "a 1.0 amd64")
	p.Failed("b.deb", "invalid_package: not a .deb")
	require.Equal(t, "uploading 2/3 files  1.0 MiB/3.0 MiB  1.0 MiB/s  (1 failed)", p.line(p.start.Add(time.Second)))
	require.NotContains(t, buf.String(), "a.deb", "no line per file on a terminal")
	require.Contains(t, buf.String(), "uploading b.deb… failed: invalid_package: not a .deb\n")
	p.Close()
	require.Contains(t, buf.String(), "uploaded 1 of 3 files (1.0 MiB) in ")

	var plain syncBuffer
	u = newUI(&plain, false, func(string) string { return "" })
	p = u.BulkUpload(2, 2048)
	p.Done("a.deb", 1024, "a 1.0 amd64")
	p.Failed("b.deb", "too_large: …")
	p.Close()
	require.Equal(t, "uploading a.deb (1.0 KiB)… done: a 1.0 amd64\nuploading b.deb… failed: too_large: …\n", plain.String())
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
