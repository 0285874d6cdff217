package apt

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

// requireUnxz checks that data decodes to plain with ulikunitz/xz and,
// when xz(1) is installed, with xz(1), which is liblzma as apt uses it.
func requireUnxz(t *testing.T, plain, data []byte) {
	t.Helper()
	xr, err := xz.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	out, err := io.ReadAll(xr)
	require.NoError(t, err)
	require.True(t, bytes.Equal(plain, out), "ulikunitz/xz decodes %d bytes, not the %d of Packages", len(out), len(plain))

	if _, err := exec.LookPath("xz"); err != nil {
		return
	}
	cmd := exec.Command("xz", "-dc")
	cmd.Stdin = bytes.NewReader(data)
	out, err = cmd.Output()
	require.NoError(t, err, "xz -dc")
	require.True(t, bytes.Equal(plain, out), "xz -dc decodes %d bytes, not the %d of Packages", len(out), len(plain))
	cmd = exec.Command("xz", "-t")
	cmd.Stdin = bytes.NewReader(data)
	require.NoError(t, cmd.Run(), "xz -t")
}

// TestXZReadByTools feeds a multi-Block Packages.xz to xz(1), and checks
// with xz --list that it holds one Block per chunk, each with the sizes
// in its header, the 256 KiB dictionary and a CRC64.
func TestXZReadByTools(t *testing.T) {
	t.Parallel()
	xzCmd := needTool(t, "xz")
	ix, err := NewIndex("main", "amd64", SplitByArch(synthRepo(20_000)["main"], []string{"amd64"})["amd64"])
	require.NoError(t, err)
	require.Greater(t, len(ix.xzChunks), 4)
	files, err := ix.Files([]Compression{XZ})
	require.NoError(t, err)
	requireUnxz(t, files[0].Data, files[1].Data)

	path := filepath.Join(t.TempDir(), "Packages.xz")
	require.NoError(t, os.WriteFile(path, files[1].Data, 0o644))
	list := run(t, "", nil, xzCmd, "--robot", "--list", "-vv", path)
	var blocks []string
	for line := range strings.Lines(string(list)) {
		if strings.HasPrefix(line, "block\t") {
			blocks = append(blocks, line)
		}
	}
	require.Len(t, blocks, len(ix.xzChunks), "%s", list)
	for _, b := range blocks {
		f := strings.Split(strings.TrimSuffix(b, "\n"), "\t")
		require.Equal(t, "CRC64", f[9], b)
		require.Equal(t, "cu", f[12], "sizes in the Block header: %s", b)
		require.Equal(t, "--lzma2=dict=256KiB", f[15], b)
	}
}

// TestXZEmpty checks that an empty index gives the file xz(1) writes for
// empty input: a stream without Blocks.
func TestXZEmpty(t *testing.T) {
	t.Parallel()
	ix, err := NewIndex("main", "amd64", nil)
	require.NoError(t, err)
	files, err := ix.Files([]Compression{XZ})
	require.NoError(t, err)
	require.Empty(t, files[0].Data)
	requireUnxz(t, files[0].Data, files[1].Data)

	if _, err := exec.LookPath("xz"); err != nil {
		return
	}
	want := run(t, "", nil, "xz", "--check=crc64", "-c", "/dev/null")
	require.Equal(t, want, files[1].Data)
}

// TestXZChunkRatio bounds what compressing each chunk as its own Block
// costs against compressing Packages as one Block with the same
// dictionary.
func TestXZChunkRatio(t *testing.T) {
	t.Parallel()
	ix, err := NewIndex("main", "amd64", SplitByArch(synthRepo(20_000)["main"], []string{"amd64"})["amd64"])
	require.NoError(t, err)
	files, err := ix.Files([]Compression{XZ})
	require.NoError(t, err)
	var whole bytes.Buffer
	w, err := xz.WriterConfig{DictCap: xzDictCap}.NewWriter(&whole)
	require.NoError(t, err)
	_, err = w.Write(files[0].Data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	ratio := float64(len(files[1].Data)) / float64(whole.Len())
	t.Logf("%d Blocks: %d bytes, one Block %d bytes: %.3f", len(ix.xzChunks), len(files[1].Data), whole.Len(), ratio)
	require.Greater(t, len(ix.xzChunks), 4)
	require.Less(t, ratio, 1.05)
}
