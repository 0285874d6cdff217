package apt

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBuildRelease(t *testing.T) {
	t.Parallel()
	h := func(c string, n int) string { return strings.Repeat(c, n) }
	files := []IndexFile{
		{Path: "main/binary-amd64/Packages.gz", Size: 123, MD5: h("3", 32), SHA256: h("2", 64), SHA512: h("3", 128)},
		{Path: "main/binary-amd64/Packages", Size: 45678, SHA256: h("0", 64), SHA512: h("1", 128), MD5: h("9", 32)},
		{Path: "contrib/binary-amd64/Packages", Size: 0, MD5: h("5", 32), SHA256: h("4", 64), SHA512: h("5", 128)},
		{Path: "contrib/binary-amd64/Packages.xz", Size: 32, SHA256: h("6", 64)}, // no MD5: left out of that list
	}
	meta := ReleaseMeta{
		Origin: "aptq", Label: "aptq test", Suite: "stable", Codename: "bookworm",
		Date:          time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600)),
		ValidUntil:    time.Date(2025, 3, 11, 5, 6, 7, 0, time.UTC),
		Generation:    42,
		KeepVersions:  3,
		Architectures: []string{"amd64", "arm64"},
		Components:    []string{"main", "contrib"},
		Description:   "Test repository",
	}
	want := "Origin: aptq\n" +
		"Label: aptq test\n" +
		"Suite: stable\n" +
		"Codename: bookworm\n" +
		"Date: Tue, 04 Mar 2025 04:06:07 +0000\n" +
		"Valid-Until: Tue, 11 Mar 2025 05:06:07 +0000\n" +
		"Aptq-Generation: 42\n" +
		"Aptq-Keep-Versions: 3\n" +
		"Architectures: amd64 arm64\n" +
		"Components: main contrib\n" +
		"Description: Test repository\n" +
		"Acquire-By-Hash: yes\n" +
		"MD5Sum:\n" +
		" " + h("5", 32) + "                0 contrib/binary-amd64/Packages\n" +
		" " + h("9", 32) + "            45678 main/binary-amd64/Packages\n" +
		" " + h("3", 32) + "              123 main/binary-amd64/Packages.gz\n" +
		"SHA256:\n" +
		" " + h("4", 64) + "                0 contrib/binary-amd64/Packages\n" +
		" " + h("6", 64) + "               32 contrib/binary-amd64/Packages.xz\n" +
		" " + h("0", 64) + "            45678 main/binary-amd64/Packages\n" +
		" " + h("2", 64) + "              123 main/binary-amd64/Packages.gz\n"
	got := BuildRelease(meta, files)
	require.Equal(t, want, string(got))
	require.Equal(t, "main/binary-amd64/Packages.gz", files[0].Path, "input left unsorted")

	r, err := ParseRelease(got)
	require.NoError(t, err)
	meta.Date = meta.Date.UTC()
	require.Equal(t, meta, r.Meta)
	require.Equal(t, "yes", r.Fields.Get("Acquire-By-Hash"))
	want2 := []IndexFile{
		{Path: "contrib/binary-amd64/Packages", Size: 0, MD5: h("5", 32), SHA256: h("4", 64)},
		{Path: "contrib/binary-amd64/Packages.xz", Size: 32, SHA256: h("6", 64)},
		{Path: "main/binary-amd64/Packages", Size: 45678, MD5: h("9", 32), SHA256: h("0", 64)},
		{Path: "main/binary-amd64/Packages.gz", Size: 123, MD5: h("3", 32), SHA256: h("2", 64)},
	}
	require.Equal(t, want2, r.Files)
}

func TestBuildReleaseMinimal(t *testing.T) {
	t.Parallel()
	got := BuildRelease(ReleaseMeta{}, nil)
	require.Equal(t, "Aptq-Generation: 0\nAcquire-By-Hash: yes\nMD5Sum:\nSHA256:\n", string(got))
	r, err := ParseRelease(got)
	require.NoError(t, err)
	require.Equal(t, ReleaseMeta{}, r.Meta)
	require.Empty(t, r.Files)
}

// TestParseReleaseForeign parses a Release written by apt-ftparchive, with
// MD5Sum and SHA1 lists and a named time zone.
func TestParseReleaseForeign(t *testing.T) {
	t.Parallel()
	in := "Origin: Debian\nSuite: stable\nDate: Sat, 08 Mar 2025 10:41:54 UTC\nNo-Support-for-Architecture-all: Packages\n" +
		"MD5Sum:\n " + strings.Repeat("a", 32) + " 10 main/binary-all/Packages\n" +
		"SHA1:\n " + strings.Repeat("b", 40) + " 10 main/binary-all/Packages\n" +
		"SHA256:\n " + strings.Repeat("c", 64) + "        10 main/binary-all/Packages\n"
	r, err := ParseRelease([]byte(in))
	require.NoError(t, err)
	require.Equal(t, time.Date(2025, 3, 8, 10, 41, 54, 0, time.UTC), r.Meta.Date)
	require.Equal(t, "Packages", r.Fields.Get("No-Support-for-Architecture-all"))
	require.Equal(t, []IndexFile{{
		Path: "main/binary-all/Packages", Size: 10,
		MD5: strings.Repeat("a", 32), SHA1: strings.Repeat("b", 40), SHA256: strings.Repeat("c", 64),
	}}, r.Files)
}

// TestParseReleaseOneDigitDay parses the Date aptly writes: the day of the
// month without a leading zero, which apt accepts.
func TestParseReleaseOneDigitDay(t *testing.T) {
	t.Parallel()
	for _, date := range []string{"Thu, 3 Dec 2026 06:51:44 UTC", "Thu, 3 Dec 2026 06:51:44 +0000"} {
		r, err := ParseRelease([]byte("Suite: bookworm\nDate: " + date + "\n"))
		require.NoError(t, err, date)
		require.Equal(t, time.Date(2026, 12, 3, 6, 51, 44, 0, time.UTC), r.Meta.Date, date)
	}
}

func TestParseReleaseErrors(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("a", 64)
	tests := []struct{ name, in, want string }{
		{"not a paragraph", "Origin aptq\n", "missing ':'"},
		{"bad date", "Date: yesterday\n", `Date: "yesterday" is not an RFC 1123 date`},
		{"bad valid-until", "Valid-Until: 2025-01-01\n", "Valid-Until"},
		{"bad generation", "Aptq-Generation: x\n", `Aptq-Generation "x" is not a number`},
		{"bad keep versions", "Aptq-Keep-Versions: 2x\n", `Aptq-Keep-Versions "2x" is not a number of versions`},
		{"negative keep versions", "Aptq-Keep-Versions: -1\n", `Aptq-Keep-Versions "-1" is not a number of versions`},
		{"short line", "SHA256:\n " + sum + " 10\n", "SHA256: malformed line"},
		{"bad hex", "SHA256:\n " + strings.Repeat("g", 64) + " 10 a\n", "SHA256: malformed line"},
		{"uppercase hex", "SHA256:\n " + strings.Repeat("A", 64) + " 10 a\n", "SHA256: malformed line"},
		{"wrong length", "SHA512:\n " + sum + " 10 a\n", "SHA512: malformed line"},
		{"bad size", "SHA256:\n " + sum + " -1 a\n", "SHA256: bad size"},
		{"listed twice", "SHA256:\n " + sum + " 1 a\n " + sum + " 1 a\n", "SHA256: a listed twice"},
		{"sizes disagree", "SHA256:\n " + sum + " 1 a\nSHA512:\n " + sum + sum + " 2 a\n", "SHA512: a has size 2, another list says 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRelease([]byte(tt.in))
			require.ErrorContains(t, err, tt.want)
		})
	}
}
