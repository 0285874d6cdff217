package apt

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

// pkg returns a Package with the given control fields and fake digests.
func pkg(name, version, arch string, extra ...Field) Package {
	control := Paragraph{{"Package", name}, {"Version", version}, {"Architecture", arch}}
	control = append(control, extra...)
	return Package{
		Control:  control,
		Filename: PoolPath("main", name, name, version, arch),
		Size:     1234,
		MD5:      strings.Repeat("a", 32),
		SHA1:     strings.Repeat("b", 40),
		SHA256:   strings.Repeat("c", 64),
		SHA512:   strings.Repeat("d", 128),
	}
}

func TestGenerateIndexesStanza(t *testing.T) {
	t.Parallel()
	p := pkg("hello", "1.0-1", "amd64",
		Field{"Maintainer", "M <m@example.org>"},
		Field{"X-Custom", "kept, after the known fields"},
		Field{"Description", "hi\n long\n .\n more"},
		Field{"depends", "libc6"}, // canonical spelling in the index
		Field{"Status", "install ok installed"},
		Field{"Filename", "evil/path.deb"}, // the index's value wins
		Field{"Conffiles", "\n /etc/hello 0123"},
		Field{"Installed-Size", "12"},
		Field{"Section", "misc"},
		Field{"Priority", "optional"},
	)
	files, err := GenerateIndexes("main", "amd64", []Package{p}, nil)
	require.NoError(t, err)
	require.Len(t, files, 1)
	want := "Package: hello\n" +
		"Architecture: amd64\n" +
		"Version: 1.0-1\n" +
		"Priority: optional\n" +
		"Section: misc\n" +
		"Maintainer: M <m@example.org>\n" +
		"Conffiles:\n /etc/hello 0123\n" +
		"Installed-Size: 12\n" +
		"Depends: libc6\n" +
		"Filename: pool/main/h/hello/hello_1.0-1_amd64.deb\n" +
		"Size: 1234\n" +
		"MD5sum: " + p.MD5 + "\n" +
		"SHA1: " + p.SHA1 + "\n" +
		"SHA256: " + p.SHA256 + "\n" +
		"SHA512: " + p.SHA512 + "\n" +
		"Description: hi\n long\n .\n more\n" +
		"X-Custom: kept, after the known fields\n" +
		"\n"
	require.Equal(t, want, string(files[0].Data))
	require.Equal(t, "main/binary-amd64/Packages", files[0].Path)
}

func TestGenerateIndexesOrder(t *testing.T) {
	t.Parallel()
	pkgs := []Package{
		pkg("zlib1g", "1:1.2.13-1", "amd64"),
		pkg("hello", "1.0-1", "amd64"),
		pkg("hello", "1.0~rc1-1", "amd64"),
		pkg("hello", "1:0.9-1", "amd64"),
		pkg("hello", "1.0-10", "amd64"),
		pkg("hello", "1.0-2", "amd64"),
		pkg("hello-doc", "1.0-1", "all"),
		pkg("hello", "1.0-2", "all"),
		pkg("a0", "1", "all"),
	}
	files, err := GenerateIndexes("main", "amd64", pkgs, []Compression{Gzip})
	require.NoError(t, err)
	var got []string
	for _, stanza := range strings.Split(strings.TrimSuffix(string(files[0].Data), "\n\n"), "\n\n") {
		p, err := ParseParagraph([]byte(stanza))
		require.NoError(t, err)
		got = append(got, p.Get("Package")+" "+p.Get("Version")+" "+p.Get("Architecture"))
	}
	require.Equal(t, []string{
		"a0 1 all",
		"hello 1.0~rc1-1 amd64",
		"hello 1.0-1 amd64",
		"hello 1.0-2 all",
		"hello 1.0-2 amd64",
		"hello 1.0-10 amd64",
		"hello 1:0.9-1 amd64",
		"hello-doc 1.0-1 all",
		"zlib1g 1:1.2.13-1 amd64",
	}, got)

	// Any input order gives the same bytes.
	for range 5 {
		shuffled := append([]Package(nil), pkgs...)
		rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		again, err := GenerateIndexes("main", "amd64", shuffled, []Compression{Gzip})
		require.NoError(t, err)
		require.Equal(t, files, again)
	}
}

func TestGenerateIndexesCompressions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		pkgs []Package
	}{
		{"empty", nil},
		{"some", []Package{pkg("hello", "1.0", "arm64"), pkg("world", "2.0", "all")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files, err := GenerateIndexes("contrib", "arm64", tt.pkgs, []Compression{XZ, Gzip})
			require.NoError(t, err)
			require.Len(t, files, 3)
			plain := files[0]
			require.Equal(t, "contrib/binary-arm64/Packages", plain.Path)
			require.Equal(t, "contrib/binary-arm64/Packages.xz", files[1].Path)
			require.Equal(t, "contrib/binary-arm64/Packages.gz", files[2].Path)
			if tt.pkgs == nil {
				require.Empty(t, plain.Data)
			}

			// Deterministic header: no file name (FLG 0), no MTIME.
			require.Equal(t, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, files[2].Data[:8])
			zr, err := gzip.NewReader(bytes.NewReader(files[2].Data))
			require.NoError(t, err)
			unz, err := io.ReadAll(zr)
			require.NoError(t, err)
			require.Equal(t, plain.Data, unz)

			xr, err := xz.NewReader(bytes.NewReader(files[1].Data))
			require.NoError(t, err)
			unxz, err := io.ReadAll(xr)
			require.NoError(t, err)
			require.Equal(t, plain.Data, unxz)

			// The reference decoders must agree (apt uses zlib and liblzma).
			for _, tool := range []struct {
				cmd  string
				file IndexFile
			}{{"gzip", files[2]}, {"xz", files[1]}} {
				if _, err := exec.LookPath(tool.cmd); err != nil {
					continue
				}
				cmd := exec.Command(tool.cmd, "-dc")
				cmd.Stdin = bytes.NewReader(tool.file.Data)
				out, err := cmd.Output()
				require.NoError(t, err, tool.cmd)
				require.Equal(t, plain.Data, out, tool.cmd)
			}

			for _, f := range files {
				require.Equal(t, describe(f.Path, f.Data), f)
				require.Equal(t, int64(len(f.Data)), f.Size)
			}
		})
	}
}

func TestGenerateIndexesErrors(t *testing.T) {
	t.Parallel()
	good := []Package{pkg("hello", "1.0", "amd64")}
	noFilename := pkg("hello", "1.0", "amd64")
	noFilename.Filename = ""
	tests := []struct {
		name, component, arch string
		pkgs                  []Package
		compressions          []Compression
		want                  string
	}{
		{"bad compression", "main", "amd64", good, []Compression{"bz2"}, `unsupported compression "bz2"`},
		{"compression twice", "main", "amd64", good, []Compression{Gzip, Gzip}, `compression "gz" given twice`},
		{"empty component", "", "amd64", good, nil, "component is empty"},
		{"escaping component", "../x", "amd64", good, nil, "empty, . or .. path segment"},
		{"odd component", "main contrib", "amd64", good, nil, "may contain only"},
		{"bad arch", "main", "x/y", good, nil, "architecture"},
		{"wrong arch", "main", "arm64", good, nil, "hello has architecture amd64, which does not belong in binary-arm64"},
		{"no filename", "main", "amd64", []Package{noFilename}, nil, "Package, Architecture and Filename are required"},
		{"bad version", "main", "amd64", []Package{pkg("hello", "x", "amd64")}, nil, `version "x"`},
		{"duplicate", "main", "amd64", []Package{pkg("hello", "1.0", "amd64"), pkg("hello", "1.00", "amd64")}, nil, "are the same version for apt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := GenerateIndexes(tt.component, tt.arch, tt.pkgs, tt.compressions)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestSplitByArch(t *testing.T) {
	t.Parallel()
	a := pkg("a", "1", "amd64")
	b := pkg("b", "1", "arm64")
	all := pkg("c", "1", "all")
	other := pkg("d", "1", "riscv64")
	tests := []struct {
		name  string
		archs []string
		want  map[string][]Package
	}{
		{"two archs", []string{"amd64", "arm64"}, map[string][]Package{"amd64": {a, all}, "arm64": {b, all}}},
		{"arch without packages", []string{"i386"}, map[string][]Package{"i386": {all}}},
		{"all listed", []string{"amd64", "all"}, map[string][]Package{"amd64": {a, all}, "all": {all}}},
		{"none", nil, map[string][]Package{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, SplitByArch([]Package{a, b, all, other}, tt.archs))
		})
	}
	require.Equal(t, map[string][]Package{"amd64": {}}, SplitByArch(nil, []string{"amd64"}))
}

// TestStanzaSizeIsUpperBound guards the buffer sizing that parallel
// rendering relies on, with the packages most likely to break it.
func TestStanzaSizeIsUpperBound(t *testing.T) {
	t.Parallel()
	odd := []Package{
		pkg("hello", "1.0", "amd64"),
		{Control: Paragraph{{"Package", "x"}}, Filename: "f", Size: -1 << 63},
		{Control: Paragraph{{"Package", "x"}, {"Size", ""}, {"Filename", "very/long/path/that/is/skipped"}, {"Status", "ok"}}, Size: 1<<63 - 1},
		{Control: Paragraph{{"Pac\u212aage", "kelvin"}, {"Description", "\n x\n y"}, {"Empty", ""}}},
		{},
	}
	for _, p := range odd {
		require.LessOrEqual(t, len(appendStanza(nil, &p)), stanzaSize(&p), "%v", p.Control)
	}
}

// TestRenderParallel checks that rendering in chunks on several goroutines
// gives exactly the bytes of rendering in one piece.
func TestRenderParallel(t *testing.T) {
	t.Parallel()
	pkgs := SplitByArch(synthRepo(8000)["main"], []string{"amd64"})["amd64"]
	render := func(workers int) ([]byte, []*item) {
		items, sorted, err := sortItems("amd64", pkgs)
		require.NoError(t, err)
		return renderParallel(items, sorted, workers), items
	}
	want, _ := render(1)
	for _, workers := range []int{2, 3, 7} {
		got, items := render(workers)
		require.Equal(t, want, got, "%d workers", workers)
		var texts []byte
		for _, it := range items {
			texts = append(texts, it.text...)
		}
		require.Equal(t, want, texts, "%d workers: item texts", workers)
	}
}
