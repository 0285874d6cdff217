package apt

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"

	"github.com/aptq/aptq/apt/debtest"
)

// TestSourcesAgreesWithFtparchive builds two real source packages (two
// revisions sharing an orig tarball), renders their Sources index and
// checks that every stanza carries the fields apt-ftparchive writes for
// the same pool, with the same values (apt-ftparchive adds Priority and
// Section overrides and orders fields its own way).
func TestSourcesAgreesWithFtparchive(t *testing.T) {
	t.Parallel()
	ftparchive := needTool(t, "apt-ftparchive")
	repo := t.TempDir()
	dir := filepath.Join(repo, SourceDir("main", "hello"))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var srcs []Source
	for _, rev := range []string{"1", "2"} {
		data, err := os.ReadFile(debtest.BuildSource(t, dir, debtest.SourceOptions{Upstream: "1.0", Revision: rev}))
		require.NoError(t, err)
		d, err := ParseDSC(data)
		require.NoError(t, err)
		srcs = append(srcs, Source{Control: SourceControl(d), Directory: SourceDir("main", d.Source)})
	}
	plain, err := RenderSources([]Source{srcs[1], srcs[0]})
	require.NoError(t, err)
	ours, err := ParseSources(plain)
	require.NoError(t, err)
	require.Equal(t, srcs, ours, "sorted by version, and parsed back as rendered")

	theirs, err := ParseSources(normalizeFtparchive(t, run(t, repo, nil, ftparchive, "sources", "pool/main")))
	require.NoError(t, err)
	require.Len(t, theirs, 2)
	for i, s := range ours {
		for _, f := range append(s.Control, Field{Name: "Directory", Value: s.Directory}) {
			got, ok := fieldValue(append(theirs[i].Control, Field{Name: "Directory", Value: theirs[i].Directory}), f.Name)
			require.True(t, ok, "apt-ftparchive has no %s", f.Name)
			require.Equal(t, f.Value, got, "field %s of %s", f.Name, s.Key())
		}
	}
}

// normalizeFtparchive moves Package first and Directory last in each
// stanza of apt-ftparchive's output, the layout ParseSources reads.
func normalizeFtparchive(t *testing.T, out []byte) []byte {
	var b []byte
	for _, stanza := range bytes.Split(bytes.TrimSpace(out), []byte("\n\n")) {
		p, err := ParseParagraph(stanza)
		require.NoError(t, err)
		pkg, _ := fieldValue(p, "Package")
		dir, _ := fieldValue(p, "Directory")
		q := Paragraph{{Name: "Package", Value: pkg}}
		for _, f := range p {
			if f.Name != "Package" && f.Name != "Directory" {
				q = append(q, f)
			}
		}
		b = appendField(q.AppendTo(b), "Directory", dir)
		b = append(b, '\n')
	}
	return b
}

func TestSourcesApplyAndFiles(t *testing.T) {
	t.Parallel()
	src := func(name, version string) Source {
		return Source{Control: Paragraph{{Name: "Package", Value: name}, {Name: "Version", Value: version}},
			Directory: SourceDir("main", name)}
	}
	base := []Source{src("b", "1.0"), src("a", "2.0"), src("a", "1:0.5")}
	next := ApplySources(base, []Source{src("c", "1")}, []SourceKey{{"a", "2.0"}})
	plain, err := RenderSources(next)
	require.NoError(t, err)
	require.Equal(t, "Package: a\nVersion: 1:0.5\nDirectory: pool/main/a/a\n\n"+
		"Package: b\nVersion: 1.0\nDirectory: pool/main/b/b\n\n"+
		"Package: c\nVersion: 1\nDirectory: pool/main/c/c\n\n", string(plain))

	_, err = RenderSources(append(next, src("c", "1")))
	require.ErrorContains(t, err, "listed twice")

	files, err := SourcesFiles("main", plain, []Compression{Gzip, XZ})
	require.NoError(t, err)
	require.Equal(t, []string{"main/source/Sources", "main/source/Sources.gz", "main/source/Sources.xz"},
		[]string{files[0].Path, files[1].Path, files[2].Path})
	zr, err := gzip.NewReader(bytes.NewReader(files[1].Data))
	require.NoError(t, err)
	got, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, plain, got)
	xr, err := xz.NewReader(bytes.NewReader(files[2].Data))
	require.NoError(t, err)
	got, err = io.ReadAll(xr)
	require.NoError(t, err)
	require.Equal(t, plain, got)

	for _, bad := range []string{"Package: a\nDirectory: x\n", "Version: 1\nDirectory: x\n\n", "Package: a\nVersion: 1\n\n"} {
		_, err := ParseSources([]byte(bad))
		require.Error(t, err, bad)
	}
}
