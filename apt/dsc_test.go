package apt

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// realDSC builds a source package with dpkg-source and returns the .dsc's
// bytes and the directory holding its files.
func realDSC(t *testing.T, o debtest.SourceOptions) ([]byte, string) {
	t.Helper()
	dir := t.TempDir()
	path := debtest.BuildSource(t, dir, o)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data, dir
}

func TestParseDSCReal(t *testing.T) {
	t.Parallel()
	data, dir := realDSC(t, debtest.SourceOptions{Source: "hello", Upstream: "1.0", Revision: "2",
		BuildDepends: "debhelper-compat (= 13)"})
	d, err := ParseDSC(data)
	require.NoError(t, err)
	require.Equal(t, "hello", d.Source)
	require.Equal(t, "1.0-2", d.Version)
	require.False(t, d.Signed)
	require.Equal(t, "hello_1.0-2.dsc", d.Self.Name)
	require.NoError(t, d.Self.Check(data))
	var names []string
	for _, f := range d.Files {
		names = append(names, f.Name)
		content, err := os.ReadFile(filepath.Join(dir, f.Name))
		require.NoError(t, err)
		require.NoError(t, f.Check(content))
		require.NotEmpty(t, f.SHA1, "dpkg-source writes Checksums-Sha1")
		require.Error(t, f.Check(append(content, 0)), "a changed file must not pass")
	}
	require.ElementsMatch(t, []string{"hello_1.0.orig.tar.gz", "hello_1.0-2.debian.tar.xz"}, names)
}

func TestParseDSCClearsigned(t *testing.T) {
	t.Parallel()
	data, _ := realDSC(t, debtest.SourceOptions{Source: "hello", Upstream: "1.0"})
	plain, err := ParseDSC(data)
	require.NoError(t, err)

	key, err := openpgp.NewEntity("Maintainer", "", "m@example.org", nil)
	require.NoError(t, err)
	var signed bytes.Buffer
	w, err := clearsign.Encode(&signed, key.PrivateKey, nil)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	d, err := ParseDSC(signed.Bytes())
	require.NoError(t, err)
	require.True(t, d.Signed)
	require.Equal(t, plain.Paragraph, d.Paragraph)
	require.Equal(t, plain.Files, d.Files)
	require.NoError(t, d.Self.Check(signed.Bytes()), "Self describes the signed bytes, which the pool keeps")

	for name, bad := range map[string][]byte{
		"text before the armor": append([]byte("Source: evil\n\n"), signed.Bytes()...),
		"text after the armor":  append(bytes.Clone(signed.Bytes()), "Source: evil\n"...),
		"truncated signature":   signed.Bytes()[:signed.Len()-40],
	} {
		_, err := ParseDSC(bad)
		require.ErrorIs(t, err, ErrInvalidSource, name)
	}
}

const goodDSC = `Format: 3.0 (quilt)
Source: foo
Version: 1:1.0-1
Files:
 0123456789abcdef0123456789abcdef 10 foo_1.0.orig.tar.gz
 0123456789abcdef0123456789abcdef 20 foo_1.0-1.debian.tar.xz
Checksums-Sha256:
 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 10 foo_1.0.orig.tar.gz
 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 20 foo_1.0-1.debian.tar.xz
`

func TestParseDSCRejects(t *testing.T) {
	t.Parallel()
	d, err := ParseDSC([]byte(goodDSC))
	require.NoError(t, err)
	require.Equal(t, "foo_1.0-1.dsc", d.Self.Name, "the epoch is not part of the name")
	require.Len(t, d.Files, 2)

	edit := func(old, new string) string {
		require.Contains(t, goodDSC, old)
		return strings.Replace(goodDSC, old, new, 1)
	}
	for name, c := range map[string]struct{ text, want string }{
		"no Format":           {edit("Format: 3.0 (quilt)\n", ""), "no Format field"},
		"bad source":          {edit("Source: foo", "Source: Foo"), "bad Source field"},
		"bad version":         {edit("Version: 1:1.0-1", "Version: 1.0 -1"), "bad Version field"},
		"no sha256":           {goodDSC[:strings.Index(goodDSC, "Checksums-Sha256")], "no Checksums-Sha256 field"},
		"path traversal":      {strings.ReplaceAll(goodDSC, "foo_1.0.orig.tar.gz", "foo_/../../x"), "may contain only"},
		"other source's file": {strings.ReplaceAll(goodDSC, "foo_1.0.orig.tar.gz", "bar_1.0.orig.tar.gz"), `does not start with "foo_"`},
		"size mismatch":       {edit(" 10 foo_1.0.orig.tar.gz\n 01", " 11 foo_1.0.orig.tar.gz\n 01"), "gives foo_1.0.orig.tar.gz 10 bytes, Files 11"},
		"extra checksum file": {goodDSC + " 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 1 foo_x\n",
			"which Files does not"},
		"missing checksum file": {strings.TrimSuffix(goodDSC, " 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 20 foo_1.0-1.debian.tar.xz\n"),
			"does not list every file"},
		"duplicate file":  {edit(" 0123456789abcdef0123456789abcdef 20 foo_1.0-1.debian.tar.xz", " 0123456789abcdef0123456789abcdef 10 foo_1.0.orig.tar.gz"), "lists foo_1.0.orig.tar.gz twice"},
		"uppercase hex":   {edit("0123456789abcdef0123456789abcdef 10", "0123456789ABCDEF0123456789abcdef 10"), "not a lowercase hex digest"},
		"negative size":   {edit("0123456789abcdef0123456789abcdef 10", "0123456789abcdef0123456789abcdef -10"), "bad size"},
		"empty Files":     {edit("Files:\n 0123456789abcdef0123456789abcdef 10 foo_1.0.orig.tar.gz\n 0123456789abcdef0123456789abcdef 20 foo_1.0-1.debian.tar.xz\n", "Files:\n"), "Files lists no file"},
		"embedded armor":  {goodDSC + "X-Note: -----BEGIN PGP SIGNATURE-----\n", "OpenPGP armor inside"},
		"two paragraphs":  {goodDSC + "\nSource: bar\n", "more than one paragraph"},
		"too large":       {goodDSC + "X-Pad: " + strings.Repeat("a", MaxDSCSize) + "\n", "KiB limit"},
		"too many fields": {edit("Files:\n", "Files: x\n"), "want 3 words"},
	} {
		_, err := ParseDSC([]byte(c.text))
		require.ErrorIs(t, err, ErrInvalidSource, name)
		require.ErrorContains(t, err, c.want, name)
	}
}

func TestSourceDir(t *testing.T) {
	t.Parallel()
	require.Equal(t, "pool/main/h/hello", SourceDir("main", "hello"))
	require.Equal(t, "pool/contrib/libf/libfoo", SourceDir("contrib", "libfoo"))
	require.Equal(t, "pool/main/l/lib", SourceDir("main", "lib"))
}
