package apt

import (
	"bytes"
	"regexp"
	"testing"

	debversion "github.com/knqyf263/go-deb-version"
	"github.com/stretchr/testify/require"
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
