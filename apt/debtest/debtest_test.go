package debtest

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aptq/aptq/apt"
	"github.com/stretchr/testify/require"
)

func TestBuildIsReadable(t *testing.T) {
	t.Parallel()
	for _, compression := range []string{"gz", "xz", "zst", "none"} {
		t.Run(compression, func(t *testing.T) {
			t.Parallel()
			opts := Options{
				Package: "libdemo2", Version: "1:3.1~beta+dfsg-2", Architecture: "all",
				Source: "demo (3.1-2)", Depends: "libc6", Description: "demo\nlong\n\nlines",
				Extra: []Field{{Name: "Multi-Arch", Value: "foreign"}}, Compression: compression,
			}
			deb := Build(t, opts)
			require.Equal(t, deb, Build(t, opts), "deterministic")
			c, err := apt.ReadDeb(bytes.NewReader(deb))
			require.NoError(t, err)
			require.Equal(t, "libdemo2", c.Package)
			require.Equal(t, "1:3.1~beta+dfsg-2", c.Version)
			require.Equal(t, "all", c.Architecture)
			require.Equal(t, "demo", c.Source)
			require.Equal(t, "foreign", c.Paragraph.Get("Multi-Arch"))
			require.Equal(t, "demo\n long\n .\n lines", c.Paragraph.Get("Description"))

			dpkgDeb, err := exec.LookPath("dpkg-deb")
			if err != nil {
				t.Skip("dpkg-deb not installed")
			}
			path := filepath.Join(t.TempDir(), "x.deb")
			require.NoError(t, os.WriteFile(path, deb, 0o644))
			info, err := exec.Command(dpkgDeb, "--info", path).CombinedOutput()
			require.NoError(t, err, "%s", info)
			require.Contains(t, string(info), "Package: libdemo2")
			contents, err := exec.Command(dpkgDeb, "--contents", path).CombinedOutput()
			require.NoError(t, err, "%s", contents)
			require.Contains(t, string(contents), "./usr/share/doc/libdemo2/README")
		})
	}
}

func TestBuildControlVerbatim(t *testing.T) {
	t.Parallel()
	deb := Build(t, Options{Control: []byte("Package: x\n")})
	_, err := apt.ReadDeb(bytes.NewReader(deb))
	require.ErrorIs(t, err, apt.ErrInvalidPackage)
	require.ErrorContains(t, err, "no Version field")
}

func TestWriteDebUnknownCompression(t *testing.T) {
	t.Parallel()
	err := WriteDeb(io.Discard, Options{Compression: "bz2"})
	require.ErrorContains(t, err, `unknown control.tar compression "bz2"`)
}

// TestWriteDebStreamsLargePayload writes a package with an odd-sized
// payload straight to a file and has dpkg-deb extract it.
func TestWriteDebStreamsLargePayload(t *testing.T) {
	t.Parallel()
	const size = 3<<20 + 1 // odd, to exercise ar padding
	dir := t.TempDir()
	path := filepath.Join(dir, "big.deb")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, WriteDeb(f, Options{Package: "big", DataSize: size}))
	require.NoError(t, f.Close())

	var again bytes.Buffer
	require.NoError(t, WriteDeb(&again, Options{Package: "big", DataSize: size}))
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256(again.Bytes()), sha256.Sum256(onDisk), "deterministic")

	c, err := apt.ReadDeb(bytes.NewReader(onDisk))
	require.NoError(t, err)
	require.Equal(t, "3073", c.Paragraph.Get("Installed-Size"))

	dpkgDeb, err := exec.LookPath("dpkg-deb")
	if err != nil {
		t.Skip("dpkg-deb not installed")
	}
	out, err := exec.Command(dpkgDeb, "-x", path, filepath.Join(dir, "x")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	st, err := os.Stat(filepath.Join(dir, "x/usr/share/big/payload"))
	require.NoError(t, err)
	require.EqualValues(t, size, st.Size())
	readme, err := os.ReadFile(filepath.Join(dir, "x/usr/share/doc/big/README"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(readme), "big 1.0-1\n"))
}
