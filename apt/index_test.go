package apt

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/stretchr/testify/require"
)

// TestIndexApplyMatchesNewIndex applies random sequences of additions and
// removals and checks, after each, that the files equal those NewIndex
// gives for the resulting set of packages, byte for byte, and that the
// gzip file decompresses to Packages.
func TestIndexApplyMatchesNewIndex(t *testing.T) {
	t.Parallel()
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 7))
			// A pool of candidate packages, some Architecture: all.
			var pool []Package
			for i := range 600 {
				arch := "amd64"
				if i%5 == 0 {
					arch = ArchAll
				}
				pool = append(pool, synthPackage(rng, "main", fmt.Sprintf("pkg%03d", i/3), fmt.Sprintf("1.%d-1", i%3), arch))
			}
			member := map[int]bool{}
			var start []Package
			for i := range pool {
				if rng.IntN(2) == 0 {
					member[i] = true
					start = append(start, pool[i])
				}
			}
			ix, err := NewIndex("main", "amd64", start)
			require.NoError(t, err)
			for step := range 15 {
				var adds []Package
				var removes []PackageKey
				for range 1 + rng.IntN(20) {
					i := rng.IntN(len(pool))
					p := pool[i]
					if rng.IntN(2) == 0 {
						adds = append(adds, p)
						member[i] = true
						continue
					}
					if member[i] && slicesContainsName(adds, p) {
						continue // removes go first: removing what this step adds would not stick
					}
					removes = append(removes, PackageKey{p.Name(), p.Version(), p.Arch()})
					delete(member, i)
				}
				ix, err = ix.Apply(adds, removes)
				require.NoError(t, err, "step %d", step)

				var want []Package
				for i := range pool {
					if member[i] {
						want = append(want, pool[i])
					}
				}
				fresh, err := GenerateIndexes("main", "amd64", want, []Compression{Gzip})
				require.NoError(t, err)
				got, err := ix.Files([]Compression{Gzip})
				require.NoError(t, err)
				require.Equal(t, fresh, got, "step %d", step)
				require.Equal(t, len(want), ix.Len())

				zr, err := gzip.NewReader(bytes.NewReader(got[1].Data))
				require.NoError(t, err)
				unz, err := io.ReadAll(zr)
				require.NoError(t, err)
				require.Equal(t, got[0].Data, unz, "step %d", step)
			}
		})
	}
}

func slicesContainsName(pkgs []Package, p Package) bool {
	for _, q := range pkgs {
		if q.Name() == p.Name() && q.Version() == p.Version() && q.Arch() == p.Arch() {
			return true
		}
	}
	return false
}

// TestIndexApplyReusesChunks checks the point of chunking: one added
// package recompresses one chunk (or two, if it starts a new one), and
// the parent keeps its own files.
func TestIndexApplyReusesChunks(t *testing.T) {
	t.Parallel()
	pkgs := SplitByArch(synthRepo(4000)["main"], []string{"amd64"})["amd64"]
	ix, err := NewIndex("main", "amd64", pkgs)
	require.NoError(t, err)
	before, err := ix.Files([]Compression{Gzip})
	require.NoError(t, err)
	require.Greater(t, len(ix.chunks), 10)

	added := synthPackage(rand.New(rand.NewPCG(1, 2)), "main", "hello-new", "1.0-1", "amd64")
	next, err := ix.Apply([]Package{added}, nil)
	require.NoError(t, err)
	shared := map[*gzChunk]bool{}
	for _, c := range ix.chunks {
		shared[c] = true
	}
	fresh := 0
	for _, c := range next.chunks {
		if !shared[c] {
			fresh++
		}
	}
	require.LessOrEqual(t, fresh, 2)
	require.GreaterOrEqual(t, fresh, 1)

	again, err := ix.Files([]Compression{Gzip})
	require.NoError(t, err)
	require.Equal(t, before, again, "Apply changed its parent")
}

func TestIndexApplyErrors(t *testing.T) {
	t.Parallel()
	ix, err := NewIndex("main", "amd64", []Package{pkg("hello", "1.0", "amd64")})
	require.NoError(t, err)

	// The same package again changes nothing.
	same, err := ix.Apply([]Package{pkg("hello", "1.0", "amd64")}, nil)
	require.NoError(t, err)
	require.Equal(t, ix.plain, same.plain)

	// Removing what is not there, or a version apt equates but is spelled
	// otherwise, changes nothing either.
	same, err = ix.Apply(nil, []PackageKey{{"hello", "0:1.0", "amd64"}, {"nope", "1", "amd64"}, {"hello", "!", "amd64"}})
	require.NoError(t, err)
	require.Equal(t, ix.plain, same.plain)

	for name, p := range map[string]Package{
		"other content, same version": pkg("hello", "1.0", "amd64", Field{"Depends", "x"}),
		"same version for apt":        pkg("hello", "0:1.0", "amd64"),
		"wrong architecture":          pkg("hello", "2.0", "arm64"),
		"bad version":                 pkg("hello", "a b", "amd64"),
		"no filename":                 {Control: Paragraph{{"Package", "x"}, {"Version", "1"}, {"Architecture", "amd64"}}},
	} {
		_, err := ix.Apply([]Package{p}, nil)
		require.Error(t, err, name)
	}
}

// TestGzipChunkRatio bounds what restarting the encoder at each chunk
// costs against compressing Packages as one stream at the same level.
func TestGzipChunkRatio(t *testing.T) {
	t.Parallel()
	files, err := GenerateIndexes("main", "amd64", SplitByArch(synthRepo(8000)["main"], []string{"amd64"})["amd64"], []Compression{Gzip})
	require.NoError(t, err)
	var whole bytes.Buffer
	w, err := flate.NewWriter(&whole, gzipLevel)
	require.NoError(t, err)
	_, err = w.Write(files[0].Data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	ratio := float64(len(files[1].Data)) / float64(whole.Len())
	t.Logf("chunked %d bytes, one stream %d bytes: %.3f", len(files[1].Data), whole.Len(), ratio)
	require.Less(t, ratio, 1.05)
}

// TestGzipReadByTools feeds a multi-chunk Packages.gz to gzip(1), which
// reads with zlib as apt does.
func TestGzipReadByTools(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("gzip"); err != nil {
		t.Skip("gzip not installed")
	}
	files, err := GenerateIndexes("main", "amd64", SplitByArch(synthRepo(3000)["main"], []string{"amd64"})["amd64"], []Compression{Gzip})
	require.NoError(t, err)
	cmd := exec.Command("gzip", "-dc")
	cmd.Stdin = bytes.NewReader(files[1].Data)
	out, err := cmd.Output()
	require.NoError(t, err)
	require.Equal(t, files[0].Data, out)
}
