package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
)

const sumA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func stanza(name, filename, size, sum string) string {
	return "Package: " + name + "\nVersion: 1:2.0-1\nArchitecture: amd64\nFilename: " + filename +
		"\nSize: " + size + "\nSHA256: " + sum + "\nDescription: test\n more\n .\n end\n"
}

func parseAll(data string, l Limits) ([]Entry, error) {
	var out []Entry
	err := ParsePackages(strings.NewReader(data), l, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

func TestParsePackages(t *testing.T) {
	t.Parallel()
	in := "\n" + stanza("hello", "pool/main/h/hello/hello_2.0-1_amd64.deb", "1234", sumA) + "\n\n" +
		stanza("libfoo1", "pool/main/libf/foo/libfoo1_2.0-1_amd64.deb", "7", sumA) // no final blank line
	got, err := parseAll(in, Limits{})
	require.NoError(t, err)
	require.Equal(t, []Entry{
		{Package: "hello", Version: "1:2.0-1", Architecture: "amd64", Filename: "pool/main/h/hello/hello_2.0-1_amd64.deb", Size: 1234, SHA256: sumA},
		{Package: "libfoo1", Version: "1:2.0-1", Architecture: "amd64", Filename: "pool/main/libf/foo/libfoo1_2.0-1_amd64.deb", Size: 7, SHA256: sumA},
	}, got)
}

// TestParsePackagesHostile replays what a hostile source can put in an
// index; each is an error naming the problem.
func TestParsePackagesHostile(t *testing.T) {
	t.Parallel()
	ok := stanza("hello", "pool/a.deb", "1", sumA)
	tests := []struct {
		name, in string
		l        Limits
		want     string
	}{
		{"parent", stanza("hello", "../a.deb", "1", sumA), Limits{}, `Filename: path "../a.deb": must be relative`},
		{"parent inside", stanza("hello", "pool/../../a.deb", "1", sumA), Limits{}, `must be relative`},
		{"absolute", stanza("hello", "/etc/passwd", "1", sumA), Limits{}, `must be relative`},
		{"empty segment", stanza("hello", "pool//a.deb", "1", sumA), Limits{}, `must be relative`},
		{"dot", stanza("hello", "./a.deb", "1", sumA), Limits{}, `must be relative`},
		{"backslash", stanza("hello", `pool\..\a.deb`, "1", sumA), Limits{}, `character '\\' is not allowed`},
		{"url", stanza("hello", "http://evil/a.deb", "1", sumA), Limits{}, `must be relative`},
		{"query", stanza("hello", "pool/a.deb?x", "1", sumA), Limits{}, ""},
		{"no filename", strings.Replace(ok, "Filename: pool/a.deb\n", "", 1), Limits{}, `Filename: path "": empty`},
		{"size zero", stanza("hello", "pool/a.deb", "0", sumA), Limits{}, `Size "0" is not a positive number`},
		{"size negative", stanza("hello", "pool/a.deb", "-1", sumA), Limits{}, `not a positive number`},
		{"size huge", stanza("hello", "pool/a.deb", "99999999999999999999", sumA), Limits{}, `not a positive number`},
		{"no sha256", strings.Replace(ok, "SHA256: "+sumA+"\n", "", 1), Limits{}, `SHA256 "" is not 64 lowercase hex digits`},
		{"upper sha256", stanza("hello", "pool/a.deb", "1", strings.ToUpper(sumA)), Limits{}, `lowercase hex`},
		{"bad name", stanza("Hello", "pool/a.deb", "1", sumA), Limits{}, `Hello`},
		{"bad version", strings.Replace(ok, "1:2.0-1", "x:y", 1), Limits{}, `package hello`},
		{"bad arch", strings.Replace(ok, "Architecture: amd64", "Architecture: ../x", 1), Limits{}, `package hello`},
		{"crlf", strings.ReplaceAll(ok, "\n", "\r\n"), Limits{}, `carriage return`},
		{"duplicate field", ok + "Package: evil\n", Limits{}, `duplicate field`},
		{"long stanza", ok + " " + strings.Repeat("x", 200) + "\n", Limits{MaxStanza: 200}, `stanza at line 1 is longer than 200 bytes`},
		{"long line", strings.Repeat("x", 300), Limits{MaxStanza: 200}, `longer than 200 bytes`},
		{"many entries", ok + "\n" + ok + "\n" + ok, Limits{MaxEntries: 2}, `more than 2 entries`},
		{"large index", ok + "\n" + ok, Limits{MaxIndexPlain: int64(len(ok)) + 5}, `uncompressed index larger than allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseAll(tt.in, tt.l)
			if tt.want == "" { // allowed: escaped when it becomes a URL
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// memFetcher serves files from memory, for the reader's unit tests.
type memFetcher map[string][]byte

func (m memFetcher) Open(_ context.Context, rel string) (io.ReadCloser, error) {
	data, ok := m[rel]
	if !ok {
		return nil, fmt.Errorf("%s: %w", rel, ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestReadIndex(t *testing.T) {
	t.Parallel()
	plain := []byte(stanza("hello", "pool/a.deb", "1", sumA) + "\n" +
		strings.Replace(stanza("data", "pool/d.deb", "2", sumA), "amd64", "all", 1))
	file := apt.IndexFile{Path: "main/binary-amd64/Packages", Size: int64(len(plain)), SHA256: hexSum(plain)}
	read := func(f memFetcher, ix Index, l Limits) ([]Entry, error) {
		s := &Source{Fetcher: f, Dist: "bookworm", Limits: l}
		var out []Entry
		err := s.ReadIndex(context.Background(), ix, func(e Entry) error { out = append(out, e); return nil })
		return out, err
	}
	ix := Index{Component: "main", Arch: "amd64", File: file}
	files := memFetcher{"dists/bookworm/main/binary-amd64/Packages": plain}

	got, err := read(files, ix, Limits{})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "main", got[1].Component)
	require.Equal(t, "all", got[1].Architecture)

	t.Run("tampered", func(t *testing.T) {
		t.Parallel()
		bad := bytes.Replace(plain, []byte("hello"), []byte("hellp"), 1)
		_, err := read(memFetcher{"dists/bookworm/main/binary-amd64/Packages": bad}, ix, Limits{})
		require.ErrorIs(t, err, ErrIntegrity)
		require.ErrorContains(t, err, "dists/bookworm/main/binary-amd64/Packages: ")
	})
	t.Run("longer", func(t *testing.T) {
		t.Parallel()
		_, err := read(memFetcher{"dists/bookworm/main/binary-amd64/Packages": append(plain, '\n')}, ix, Limits{})
		require.ErrorContains(t, err, "larger than")
	})
	t.Run("too large to read", func(t *testing.T) {
		t.Parallel()
		_, err := read(memFetcher{}, ix, Limits{MaxIndex: 10})
		require.ErrorContains(t, err, "more than the 10 allowed")
	})
	t.Run("wrong architecture", func(t *testing.T) {
		t.Parallel()
		arm := Index{Component: "main", Arch: "arm64", File: apt.IndexFile{Path: "main/binary-arm64/Packages", Size: file.Size, SHA256: file.SHA256}}
		_, err := read(memFetcher{"dists/bookworm/main/binary-arm64/Packages": plain}, arm, Limits{})
		require.ErrorContains(t, err, "package hello 1:2.0-1 is amd64, which does not belong in binary-arm64")
	})
}

func TestIndexes(t *testing.T) {
	t.Parallel()
	r := &Release{Path: "dists/x/Release", Release: &apt.Release{Files: []apt.IndexFile{
		{Path: "main/binary-all/Packages.gz", SHA256: sumA},
		{Path: "main/binary-amd64/Packages", SHA256: sumA},
		{Path: "main/binary-amd64/Packages.gz", SHA256: sumA},
		{Path: "main/binary-amd64/Packages.xz", SHA256: sumA},
		{Path: "main/binary-arm64/Packages", SHA256: sumA},
		{Path: "main/binary-arm64/Packages.gz", MD5: "x"}, // no SHA256: not usable
	}}}
	got, err := r.Indexes([]string{"main"}, []string{"amd64", "arm64"})
	require.NoError(t, err)
	var paths []string
	for _, ix := range got {
		paths = append(paths, ix.File.Path)
	}
	require.Equal(t, []string{"main/binary-amd64/Packages.xz", "main/binary-arm64/Packages", "main/binary-all/Packages.gz"}, paths)
	_, err = r.Indexes([]string{"contrib"}, []string{"amd64"})
	require.ErrorContains(t, err, "dists/x/Release lists no contrib/binary-amd64/Packages index with a SHA256")
}

// FuzzParsePackages checks that parsing never panics and that every entry
// it hands on passes the checks import relies on. Seeds:
// testdata/fuzz/FuzzParsePackages.
func FuzzParsePackages(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = ParsePackages(bytes.NewReader(data), Limits{MaxStanza: 4096, MaxEntries: 100}, func(e Entry) error {
			require.NoError(t, CheckPath(e.Filename))
			require.Positive(t, e.Size)
			require.Len(t, e.SHA256, 64)
			require.NoError(t, apt.CheckPackageName(e.Package))
			return nil
		})
	})
}
