package apt

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

func TestReadDebFiles(t *testing.T) {
	t.Parallel()
	deb := debtest.Build(t, debtest.Options{Files: []string{"./usr/bin/hello", "/usr/lib/x y", "./usr/bin/hello"}})
	c, files, err := ReadDebFiles(bytes.NewReader(deb))
	require.NoError(t, err)
	require.Equal(t, "hello", c.Package)
	require.Equal(t, []string{"usr/bin/hello", "usr/lib/x y", "usr/share/doc/hello/README"}, files)
	require.Equal(t, files, mustDecode(t, EncodeFileList(files)))
}

func TestReadDebFilesRefusesHostileNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"../etc/passwd", "./usr/../../etc/shadow", "./usr/bin/a\nusr/bin/b", "./usr//x",
		"./usr/bin/tab\there", "./" + string(bytes.Repeat([]byte("a"), maxPathLength+1))} {
		deb := debtest.Build(t, debtest.Options{Files: []string{name}})
		_, _, err := ReadDebFiles(bytes.NewReader(deb))
		require.ErrorIs(t, err, ErrInvalidPackage, "%q", name)
		// ReadDeb does not look at names: the list is what refuses them.
		_, err = ReadDeb(bytes.NewReader(deb))
		require.NoError(t, err)
	}
}

// TestReadDebFilesMemberCount streams a data.tar of MaxPackageFiles+1
// empty files: refused, without holding the archive.
func TestReadDebFilesMemberCount(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes 250 MB of tar headers")
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeManyFilesDeb(pw, MaxPackageFiles+1)) }()
	_, _, err := ReadDebFiles(pr)
	require.ErrorIs(t, err, ErrInvalidPackage)
	require.ErrorContains(t, err, fmt.Sprintf("more than %d files", MaxPackageFiles))
}

// writeManyFilesDeb writes a .deb whose data.tar.gz holds n empty files;
// the ar member size of data.tar.gz is unknown up front, so it is the last
// member with a size that covers what is written and ar padding after it.
func writeManyFilesDeb(w io.Writer, n int) error {
	var head bytes.Buffer
	if err := debtest.WriteDeb(&head, debtest.Options{}); err != nil {
		return err
	}
	// Keep debian-binary and control.tar.gz, drop the data member.
	i := bytes.Index(head.Bytes(), []byte("data.tar.gz"))
	if _, err := w.Write(head.Bytes()[:i]); err != nil {
		return err
	}
	var data bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&data, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for k := range n {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("./f/%07d", k), Mode: 0o644}); err != nil {
			return err
		}
	}
	tw.Close()
	zw.Close()
	if _, err := fmt.Fprintf(w, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", "data.tar.gz", 0, 0, 0, "100644", data.Len()); err != nil {
		return err
	}
	_, err := w.Write(data.Bytes())
	if data.Len()%2 == 1 {
		_, err = w.Write([]byte{'\n'})
	}
	return err
}

func mustDecode(t *testing.T, data []byte) []string {
	files, err := DecodeFileList(data)
	require.NoError(t, err)
	return files
}

func randomContentsPackage(r *rand.Rand, arch string) ContentsPackage {
	p := ContentsPackage{Key: PackageKey{Name: fmt.Sprintf("p%d", r.IntN(30)), Version: fmt.Sprintf("1.%d", r.IntN(3)), Arch: arch},
		Section: []string{"", "devel", "contrib/utils", "bad section"}[r.IntN(4)]}
	for range r.IntN(40) {
		p.Files = append(p.Files, fmt.Sprintf("usr/%s/f%d", []string{"bin", "lib", "share/doc"}[r.IntN(3)], r.IntN(400)))
	}
	slices.Sort(p.Files)
	p.Files = slices.Compact(p.Files)
	return p
}

// TestContentsApplyIsNew checks that any sequence of Apply gives the bytes
// NewContents gives for the resulting set of packages, that the gzip file
// (its CRC combined from the chunks') decodes to the text, and that the
// text parses back.
func TestContentsApplyIsNew(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	ct, err := NewContents("main", "amd64", nil)
	require.NoError(t, err)
	set := map[PackageKey]ContentsPackage{}
	for round := range 60 {
		var adds []ContentsPackage
		var removes []PackageKey
		for range r.IntN(5) {
			p := randomContentsPackage(r, []string{"amd64", "all"}[r.IntN(2)])
			if old, ok := set[p.Key]; ok {
				p = old // a package's content never changes
			}
			adds = append(adds, p)
		}
		for k := range set {
			if r.IntN(8) == 0 {
				removes = append(removes, k)
			}
		}
		for _, k := range removes {
			delete(set, k)
		}
		for _, p := range adds {
			set[p.Key] = p
		}
		ct, err = ct.Apply(adds, removes)
		require.NoError(t, err)
		var all []ContentsPackage
		for _, p := range set {
			all = append(all, p)
		}
		full, err := NewContents("main", "amd64", all)
		require.NoError(t, err)
		require.Equal(t, string(full.Text()), string(ct.Text()), "round %d", round)
		f := ct.File()
		require.Equal(t, full.File(), f)
		require.Equal(t, "main/Contents-amd64.gz", f.Path)
		zr, err := gzip.NewReader(bytes.NewReader(f.Data))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr) // checks the CRC and size
		require.NoError(t, err)
		require.Equal(t, ct.Text(), plain)
		listed := describe("main/Contents-amd64", plain)
		listed.Data = nil
		require.Equal(t, listed, ct.Plain())
		lines, err := ParseContents(plain)
		require.NoError(t, err)
		require.Len(t, lines, ct.Len())
	}
}

func TestContentsVersionsShareAPath(t *testing.T) {
	t.Parallel()
	v1 := ContentsPackage{Key: PackageKey{"hello", "1", "amd64"}, Section: "devel", Files: []string{"usr/bin/hello", "usr/share/v1"}}
	v2 := ContentsPackage{Key: PackageKey{"hello", "2", "amd64"}, Section: "devel", Files: []string{"usr/bin/hello"}}
	other := ContentsPackage{Key: PackageKey{"hello-doc", "2", "all"}, Files: []string{"usr/bin/hello"}}
	ct, err := NewContents("main", "amd64", []ContentsPackage{v1, v2, other})
	require.NoError(t, err)
	require.Equal(t, "usr/bin/hello\tdevel/hello,hello-doc\nusr/share/v1\tdevel/hello\n", string(ct.Text()))
	ct, err = ct.Apply(nil, []PackageKey{v1.Key})
	require.NoError(t, err)
	require.Equal(t, "usr/bin/hello\tdevel/hello,hello-doc\n", string(ct.Text()))
	ct, err = ct.Apply(nil, []PackageKey{v2.Key, other.Key})
	require.NoError(t, err)
	require.Empty(t, ct.Text())
	require.Equal(t, 0, ct.Len())

	_, err = ct.Apply([]ContentsPackage{{Key: PackageKey{"x", "1", "arm64"}}}, nil)
	require.ErrorContains(t, err, "architecture arm64")
	_, err = ct.Apply([]ContentsPackage{{Key: PackageKey{"x", "1", "amd64"}, Files: []string{"../etc"}}}, nil)
	require.Error(t, err)
}

func TestParseContentsRefusesNonCanonical(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"a\tx\na\ty\n", "b\tx\na\tx\n", "a x\n", "a\tx,x\n", "a\ty,x\n", "a\tx", "../a\tx\n", "a\t\n", "a\tx y\n"} {
		_, err := ParseContents([]byte(text))
		require.Error(t, err, "%q", text)
	}
	lines, err := ParseContents([]byte("usr/a b\tdevel/x,y\n"))
	require.NoError(t, err)
	require.Equal(t, []ContentsLine{{Path: "usr/a b", Names: []string{"devel/x", "y"}}}, lines)
}

// FuzzReadDebFiles checks that ReadDebFiles never panics, blames every
// failure on the package, agrees with ReadDeb on the control file, and
// returns a bounded, sorted, unique list of paths that Contents lines can
// hold and that survives its stored encoding. Seeds (.debs with hostile
// member names, many members, a compressed bomb):
// testdata/fuzz/FuzzReadDebFiles.
func FuzzReadDebFiles(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, files, err := ReadDebFiles(bytes.NewReader(data))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidPackage)
			require.Nil(t, c)
			return
		}
		want, err := ReadDeb(bytes.NewReader(data))
		require.NoError(t, err)
		require.Equal(t, want, c)
		require.LessOrEqual(t, len(files), MaxPackageFiles)
		for i, p := range files {
			require.NoError(t, checkContentsPath(p))
			if i > 0 {
				require.Less(t, files[i-1], p)
			}
		}
		require.Equal(t, files, mustDecode(t, EncodeFileList(files)))
	})
}
