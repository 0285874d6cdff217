package apt

import (
	"bytes"
	"io"
	"regexp"
	"testing"

	debversion "github.com/knqyf263/go-deb-version"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

// FuzzParseParagraph checks that parsing never panics, that every error is
// a parse error, and that what parses survives a serialise/parse round trip
// unchanged. Seeds: testdata/fuzz/FuzzParseParagraph.
func FuzzParseParagraph(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseParagraph(data)
		if err != nil {
			require.ErrorIs(t, err, errParagraph)
			return
		}
		require.NotEmpty(t, p)
		text := p.AppendTo(nil)
		again, err := ParseParagraph(text)
		require.NoError(t, err, "re-parsing %q", text)
		require.Equal(t, p, again)
		require.Equal(t, string(text), again.String())
	})
}

// FuzzReadDeb checks that ReadDeb never panics, that it blames every
// failure on the package (the reader cannot fail here), that what it
// accepts has well-formed identifying fields, and that it reads the whole
// archive: the accepted package cut by one byte is refused. Seeds (.debs of
// each control and data compression, complete and not):
// testdata/fuzz/FuzzReadDeb.
func FuzzReadDeb(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadDeb(bytes.NewReader(data))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidPackage)
			require.Nil(t, c)
			return
		}
		require.NoError(t, checkPackageName(c.Package))
		_, err = parseVersion(c.Version)
		require.NoError(t, err)
		require.NoError(t, checkArchitecture(c.Architecture))
		require.NoError(t, checkPackageName(c.Source))
		require.Equal(t, c.Package, c.Paragraph.Get("Package"))
		require.Equal(t, c.Version, c.Paragraph.Get("Version"))
		require.Equal(t, c.Architecture, c.Paragraph.Get("Architecture"))
		_, err = ReadDeb(bytes.NewReader(data[:len(data)-1]))
		require.ErrorIs(t, err, ErrInvalidPackage, "accepted with its last byte cut off")
	})
}

// FuzzCompareVersions checks that CompareVersions is antisymmetric and, on
// valid versions whose digit runs fit in an int64, agrees with
// github.com/knqyf263/go-deb-version, an independent implementation.
// Seeds: testdata/fuzz/FuzzCompareVersions.
func FuzzCompareVersions(f *testing.F) {
	longDigits := regexp.MustCompile(`[0-9]{19,}`)
	f.Fuzz(func(t *testing.T, a, b string) {
		c := CompareVersions(a, b)
		require.Contains(t, []int{-1, 0, 1}, c)
		require.Equal(t, -c, CompareVersions(b, a))
		if _, err := parseVersion(a); err != nil {
			return
		}
		if _, err := parseVersion(b); err != nil || longDigits.MatchString(a+" "+b) {
			return
		}
		va, err := debversion.NewVersion(a)
		require.NoError(t, err)
		vb, err := debversion.NewVersion(b)
		require.NoError(t, err)
		require.Equal(t, sign(va.Compare(vb)), c, "%q vs %q", a, b)
	})
}

// FuzzParseIndex: a signer parses the Packages a server sends it; hostile
// bytes must only ever be an error, and what parses renders back to the
// same bytes (the signer compares rendered indexes).
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte("Package: hello\nVersion: 1.0-1\nArchitecture: amd64\nFilename: pool/main/h/hello/hello_1.0-1_amd64.deb\n\n"))
	f.Add([]byte("Package: a\nVersion: 1:2~rc1\nArchitecture: all\n\nPackage: b\nVersion: 1\nArchitecture: amd64\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex("main", "amd64", data)
		if err != nil {
			return
		}
		require.NotNil(t, idx)
	})
}

// FuzzXZBlocks: a signer splits a server's Packages.xz into Blocks and
// decodes only those that changed; whatever it accepts must decode to what
// a whole-stream xz reader makes of the file, so that no Block can hide
// other content from it.
func FuzzXZBlocks(f *testing.F) {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	require.NoError(f, err)
	_, err = w.Write([]byte("Package: hello\nVersion: 1.0\nArchitecture: amd64\n\n"))
	require.NoError(f, err)
	require.NoError(f, w.Close())
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		blocks, err := XZBlocks(data)
		if err != nil {
			return
		}
		var got []byte
		for _, b := range blocks {
			plain, err := b.Decode()
			if err != nil {
				return
			}
			got = append(got, plain...)
		}
		r, err := xz.NewReader(bytes.NewReader(data))
		require.NoError(t, err, "blocks decoded, the stream does not open")
		want, err := io.ReadAll(r)
		require.NoError(t, err, "blocks decoded, the stream does not")
		require.Equal(t, want, got)
	})
}

// FuzzParseRelease checks that parsing a Release (the signer parses the one
// the server asks it to sign) never panics, that what it accepts has a
// retention of zero or more, and that BuildRelease writes the parsed meta
// and files back to a Release that parses to the same (the MD5Sum and
// SHA256 lists only). Seeds: testdata/fuzz/FuzzParseRelease.
func FuzzParseRelease(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRelease(data)
		if err != nil {
			return
		}
		require.GreaterOrEqual(t, r.Meta.KeepVersions, 0)
		var files []IndexFile
		for _, file := range r.Files {
			file.SHA1, file.SHA512 = "", ""
			if file.MD5 != "" || file.SHA256 != "" {
				files = append(files, file)
			}
		}
		again, err := ParseRelease(BuildRelease(r.Meta, files))
		require.NoError(t, err)
		require.Equal(t, r.Meta, again.Meta)
		if len(files) == 0 {
			files = []IndexFile{}
		}
		if len(again.Files) == 0 {
			again.Files = []IndexFile{}
		}
		require.Equal(t, files, again.Files)
	})
}

// FuzzParseDSC checks that ParseDSC never panics, blames every failure on
// the .dsc, and that what it accepts names only files of its own source
// that are safe pool names, and renders to a Sources stanza that parses
// back unchanged. Seeds (real dpkg-source output, clearsigned or not, and
// broken ones): testdata/fuzz/FuzzParseDSC.
func FuzzParseDSC(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDSC(data)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidSource)
			require.Nil(t, d)
			return
		}
		require.NoError(t, checkPackageName(d.Source))
		require.NoError(t, CheckVersion(d.Version))
		require.NotEmpty(t, d.Files)
		for _, file := range d.Files {
			require.NoError(t, checkSourceFileName(d.Source)(file.Name))
			require.Len(t, file.SHA256, 64)
		}
		src := Source{Control: SourceControl(d), Directory: SourceDir("main", d.Source)}
		plain, err := RenderSources([]Source{src})
		require.NoError(t, err)
		back, err := ParseSources(plain)
		require.NoError(t, err)
		require.Equal(t, []Source{src}, back)
	})
}

// FuzzParseChanges checks that ParseChanges never panics, blames every
// failure on the .changes, and that what it accepts names only plain file
// names with a SHA-256 each. Seeds (dpkg-genchanges output, clearsigned or
// not, and broken ones): testdata/fuzz/FuzzParseChanges.
func FuzzParseChanges(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseChanges(data)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidSource)
			require.Nil(t, c)
			return
		}
		require.NoError(t, checkPackageName(c.Source))
		require.NoError(t, CheckVersion(c.Version))
		require.NotContains(t, c.Distribution, "/")
		for _, file := range c.Files {
			require.NoError(t, CheckFileName(file.Name))
			require.Len(t, file.SHA256, 64)
		}
	})
}
