package apt

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/stretchr/testify/require"
)

// agreementDebs covers what makes Packages stanzas differ: epochs, '+' and
// '~' in versions, Architecture: all, lib* binaries of sources with other
// names, multi-line descriptions, relationship fields, unknown fields, and
// every control.tar compression.
var agreementDebs = []debtest.Options{
	{Package: "hello", Version: "1.0-1", Depends: "libc6 (>= 2.36), libfoo1 | libfoo-compat",
		Description: "greets the world\nA longer description\nover two lines.\n\nSecond paragraph.",
		Extra:       []debtest.Field{{Name: "Homepage", Value: "https://example.org/hello"}}},
	{Package: "hello", Version: "1:2.0-1", Compression: "xz"},
	{Package: "hello-data", Version: "2.0+dfsg-1", Architecture: "all", Source: "hello", Compression: "zst",
		Extra: []debtest.Field{{Name: "Multi-Arch", Value: "foreign"}}},
	{Package: "libfoo1", Version: "1.2.3+git20240101-0~bpo12+1", Source: "foo (1.2.3-1)", Compression: "none",
		Extra: []debtest.Field{
			{Name: "Pre-Depends", Value: "dpkg (>= 1.15)"}, {Name: "Provides", Value: "libfoo"},
			{Name: "Conflicts", Value: "libfoo0"}, {Name: "Breaks", Value: "hello (<< 1.0)"},
			{Name: "Replaces", Value: "libfoo0"}, {Name: "Multi-Arch", Value: "same"},
		}},
	{Package: "libbar-dev", Version: "3.0-2", Source: "libbar",
		Extra: []debtest.Field{
			{Name: "Recommends", Value: "hello"}, {Name: "Suggests", Value: "hello-data"},
			{Name: "Enhances", Value: "hello"}, {Name: "Built-Using", Value: "gcc-12 (= 12.2.0-14)"},
			{Name: "X-Custom-Field", Value: "custom value"}, {Name: "Essential", Value: "no"},
		}},
	{Package: "tool", Version: "0.9~rc1-1", Architecture: "arm64"},
	{Package: "tool", Version: "0.9-1", Architecture: "amd64"},
}

// repoPackage reads a .deb as the API would and returns its index entry.
func repoPackage(t *testing.T, component string, deb []byte) Package {
	t.Helper()
	c, err := ReadDeb(bytes.NewReader(deb))
	require.NoError(t, err)
	m, s1, s256, s512 := md5.Sum(deb), sha1.Sum(deb), sha256.Sum256(deb), sha512.Sum512(deb)
	return Package{
		Control:  c.Paragraph,
		Filename: PoolPath(component, c.Source, c.Package, c.Version, c.Architecture),
		Size:     int64(len(deb)),
		MD5:      hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]),
		SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:]),
	}
}

// stanzas splits a Packages file into raw stanzas keyed by
// "name version arch", keeping their order.
func stanzas(t *testing.T, packages []byte) (keys []string, raw map[string]string) {
	t.Helper()
	raw = make(map[string]string)
	for _, s := range strings.SplitAfter(string(packages), "\n\n") {
		if s == "" {
			continue
		}
		p, err := ParseParagraph([]byte(s))
		require.NoError(t, err)
		key := p.Get("Package") + " " + p.Get("Version") + " " + p.Get("Architecture")
		require.NotContains(t, raw, key)
		keys = append(keys, key)
		raw[key] = s
	}
	return keys, raw
}

// TestAgreesWithAptFtparchive generates Packages for a pool of varied
// packages and compares it, stanza by stanza and field by field, with what
// apt-ftparchive writes for the same pool; then checks Release against the
// bytes and against apt-ftparchive's own Release sums.
func TestAgreesWithAptFtparchive(t *testing.T) {
	t.Parallel()
	ftparchive := needTool(t, "apt-ftparchive")
	repo := t.TempDir()
	var pkgs []Package
	for _, o := range agreementDebs {
		deb := debtest.Build(t, o)
		p := repoPackage(t, "main", deb)
		writeFile(t, repo, p.Filename, deb)
		pkgs = append(pkgs, p)
	}
	require.FileExists(t, filepath.Join(repo, "pool/main/f/foo/libfoo1_1.2.3+git20240101-0~bpo12+1_amd64.deb"))
	require.FileExists(t, filepath.Join(repo, "pool/main/libb/libbar/libbar-dev_3.0-2_amd64.deb"))
	require.FileExists(t, filepath.Join(repo, "pool/main/h/hello/hello_2.0-1_amd64.deb"))

	archs := []string{"amd64", "arm64"}
	byArch := SplitByArch(pkgs, archs)
	var files []IndexFile
	for _, arch := range archs {
		generated, err := GenerateIndexes("main", arch, byArch[arch], []Compression{Gzip, XZ})
		require.NoError(t, err)
		files = append(files, generated...)

		theirs := run(t, repo, nil, ftparchive, "--arch", arch, "packages", "pool/main")
		theirKeys, theirRaw := stanzas(t, theirs)
		ourKeys, ourRaw := stanzas(t, generated[0].Data)
		require.ElementsMatch(t, theirKeys, ourKeys, arch)
		for _, key := range ourKeys {
			ours, err := ParseParagraph([]byte(ourRaw[key]))
			require.NoError(t, err)
			their, err := ParseParagraph([]byte(theirRaw[key]))
			require.NoError(t, err)
			require.Equal(t, their, ours, "%s: fields, values and field order", key)
			require.Equal(t, theirRaw[key], ourRaw[key], "%s: bytes", key)
		}
		// apt-ftparchive lists packages in directory-walk order, aptq in
		// (name, version, arch) order; apt does not care.
		t.Logf("binary-%s: %d stanzas agree; same stanza order as apt-ftparchive: %v",
			arch, len(ourKeys), slices.Equal(theirKeys, ourKeys))
	}

	dists := filepath.Join(repo, "dists", "stable")
	for _, f := range files {
		writeFile(t, dists, f.Path, f.Data)
	}
	release := BuildRelease(ReleaseMeta{Suite: "stable", Architectures: archs, Components: []string{"main"}}, files)
	parsed, err := ParseRelease(release)
	require.NoError(t, err)
	require.Len(t, parsed.Files, len(files))
	for _, f := range parsed.Files {
		data, err := os.ReadFile(filepath.Join(dists, filepath.FromSlash(f.Path)))
		require.NoError(t, err)
		s256, sum := sha256.Sum256(data), md5.Sum(data)
		require.Equal(t, int64(len(data)), f.Size, f.Path)
		require.Equal(t, hex.EncodeToString(s256[:]), f.SHA256, f.Path)
		require.Equal(t, hex.EncodeToString(sum[:]), f.MD5, f.Path)
	}

	theirRelease, err := ParseRelease(run(t, dists, nil, ftparchive, "release", "."))
	require.NoError(t, err)
	for i := range theirRelease.Files {
		theirRelease.Files[i].SHA1, theirRelease.Files[i].SHA512 = "", ""
	}
	require.Equal(t, theirRelease.Files, parsed.Files)
}
