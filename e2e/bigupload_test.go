package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/store"
)

// TestBigUploadMemory streams a 512 MiB .deb through the API and checks the
// server's peak RSS grows by less than 64 MiB: the upload is hashed, parsed
// and stored as it arrives, never held in memory. The server here is built
// without the race detector, whose shadow memory would swamp the number.
func TestBigUploadMemory(t *testing.T) {
	t.Parallel()
	size := int64(512 << 20)
	if v := os.Getenv("APTQ_BIG_UPLOAD_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
		size = n
	}
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", dir+"/", "github.com/aptq/aptq/cmd/aptqd").CombinedOutput()
	require.NoError(t, err, string(out))
	b := setup(t, serverOpts{aptqd: filepath.Join(dir, "aptqd")})

	path := filepath.Join(dir, "big.deb")
	f, err := os.Create(path)
	require.NoError(t, err)
	h := sha256.New()
	require.NoError(t, debtest.WriteDeb(io.MultiWriter(f, h), debtest.Options{Package: "big", Version: "1.0",
		Architecture: "amd64", DataSize: size}))
	require.NoError(t, f.Close())
	sum := hex.EncodeToString(h.Sum(nil))
	info, err := os.Stat(path)
	require.NoError(t, err)

	c := client.New(b.URL, b.Token)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Warm up (connections, buffers) with a small upload, then reset the peak.
	small := debtest.Build(t, debtest.Options{Package: "small", Version: "1.0", Architecture: "amd64"})
	smallSum := sha256.Sum256(small)
	_, err = c.UploadPackage(ctx, hex.EncodeToString(smallSum[:]), strings.NewReader(string(small)), int64(len(small)))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", b.pid), []byte("5"), 0))
	before := procStatus(t, b.pid, "VmRSS")

	start := time.Now()
	body, err := os.Open(path)
	require.NoError(t, err)
	defer body.Close()
	p, err := c.UploadPackage(ctx, sum, body, info.Size())
	require.NoError(t, err)
	elapsed := time.Since(start)
	require.Equal(t, info.Size(), p.Size)
	peak := procStatus(t, b.pid, "VmHWM")

	growth := peak - before
	t.Logf("uploaded %d MiB in %v (%.0f MiB/s): server RSS %d MiB before, peak %d MiB, growth %d MiB",
		info.Size()>>20, elapsed.Round(time.Millisecond), float64(info.Size()>>20)/elapsed.Seconds(),
		before>>20, peak>>20, growth>>20)
	require.Less(t, growth, int64(64<<20), "server RSS grew by %d MiB", growth>>20)

	s3, _ := blobtest.New(t)
	tenant := b.tenantID(t)
	require.NoError(t, s3.Delete(context.Background(), store.PackageBlobKey(tenant, sum)))
	_, err = s3.Head(context.Background(), store.PackageBlobKey(tenant, sum))
	require.ErrorIs(t, err, blob.ErrNotFound)
}

// procStatus reads a memory figure (kB in /proc) of a process, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
