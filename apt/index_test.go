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
	"github.com/ulikunitz/xz"
)

// TestIndexApplyMatchesNewIndex applies random sequences of additions and
// removals and checks, after each, that the files equal those NewIndex
// gives for the resulting set of packages, byte for byte (Packages.xz
// every seventh step, the stanzas of its Blocks after each), and that the
// gzip and xz files decompress to Packages.
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
			// The pool is far smaller than an xz chunk: add packages that
			// end one, spread over it, so that Packages.xz has several
			// Blocks and the steps move their boundaries.
			for k, found := 0, 0; found < 12; k++ {
				name := fmt.Sprintf("pkg%03d-b%d", k%200, k)
				if chunkHash(name, "1.0-1", "amd64")%xzChunkStanzas == 0 {
					pool = append(pool, synthPackage(rng, "main", name, "1.0-1", "amd64"))
					found++
				}
			}
			maxBlocks := 0
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
				// xz compresses over ten times slower than gzip, more
				// under the race detector: every step compares the
				// stanzas of each xz Block, which make its bytes, and
				// every seventh the file, on the chunks seven steps of
				// changes left.
				compressions := []Compression{Gzip}
				if step%7 == 6 {
					compressions = append(compressions, XZ)
				}
				freshIx, err := NewIndex("main", "amd64", want)
				require.NoError(t, err)
				require.Equal(t, chunkTexts(freshIx.xzChunks), chunkTexts(ix.xzChunks), "step %d", step)
				fresh, err := freshIx.Files(compressions)
				require.NoError(t, err)
				got, err := ix.Files(compressions)
				require.NoError(t, err)
				require.Equal(t, fresh, got, "step %d", step)
				require.Equal(t, describe(got[0].Path, got[0].Data), got[0], "step %d: digests resumed from the parent's", step)
				require.Equal(t, len(want), ix.Len())

				zr, err := gzip.NewReader(bytes.NewReader(got[1].Data))
				require.NoError(t, err)
				unz, err := io.ReadAll(zr)
				require.NoError(t, err)
				require.Equal(t, got[0].Data, unz, "step %d", step)
				if len(got) > 2 {
					xr, err := xz.NewReader(bytes.NewReader(got[2].Data))
					require.NoError(t, err)
					unxz, err := io.ReadAll(xr)
					require.NoError(t, err)
					require.Equal(t, got[0].Data, unxz, "step %d", step)
				}
				maxBlocks = max(maxBlocks, len(ix.xzChunks))
			}
			require.Greater(t, maxBlocks, 2, "no step made a multi-Block Packages.xz")
		})
	}
}

// chunkTexts returns the stanzas of each chunk.
func chunkTexts(chunks []*chunk) [][]byte {
	texts := make([][]byte, len(chunks))
	for i, c := range chunks {
		for _, it := range c.items {
			texts[i] = append(texts[i], it.text...)
		}
	}
	return texts
}

func slicesContainsName(pkgs []Package, p Package) bool {
	for _, q := range pkgs {
		if q.Name() == p.Name() && q.Version() == p.Version() && q.Arch() == p.Arch() {
			return true
		}
	}
	return false
}

// TestIndexApplyReusesChunks checks the point of chunking: adding or
// removing one package recompresses only the gzip and xz chunks it falls
// in (two, when it creates a boundary; one, when it removes a boundary and
// two chunks merge), and the parent keeps its own files.
func TestIndexApplyReusesChunks(t *testing.T) {
	t.Parallel()
	pkgs := SplitByArch(synthRepo(8000)["main"], []string{"amd64"})["amd64"]
	ix, err := NewIndex("main", "amd64", pkgs)
	require.NoError(t, err)
	before, err := ix.Files([]Compression{Gzip, XZ})
	require.NoError(t, err)
	require.Greater(t, len(ix.gzChunks), 10)
	require.Greater(t, len(ix.xzChunks), 2)

	rng := rand.New(rand.NewPCG(1, 2))
	// newPackage returns a package whose hash is (boundary) or is not a
	// multiple of xzChunkStanzas.
	newPackage := func(boundary bool) Package {
		for i := 0; ; i++ {
			name := fmt.Sprintf("hello-new-%d", i)
			if (chunkHash(name, "1.0-1", "amd64")%xzChunkStanzas == 0) == boundary {
				return synthPackage(rng, "main", name, "1.0-1", "amd64")
			}
		}
	}
	// existing returns the key of a package of the middle of ix whose hash
	// is or is not a multiple of xzChunkStanzas.
	existing := func(boundary bool) []PackageKey {
		for _, it := range ix.items[len(ix.items)/2:] {
			if (it.hash%xzChunkStanzas == 0) == boundary {
				return []PackageKey{{it.name, it.version, it.arch}}
			}
		}
		t.Fatalf("no package in the second half has boundary %v", boundary)
		return nil
	}
	for _, tt := range []struct {
		name    string
		adds    []Package
		removes []PackageKey
	}{
		{"add", []Package{newPackage(false)}, nil},
		{"add boundary", []Package{newPackage(true)}, nil},
		{"remove", nil, existing(false)},
		{"remove boundary", nil, existing(true)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next, err := ix.Apply(tt.adds, tt.removes)
			require.NoError(t, err)
			require.Equal(t, ix.Len()+len(tt.adds)-len(tt.removes), next.Len())
			requireFewFresh(t, ix.gzChunks, next.gzChunks)
			requireFewFresh(t, ix.xzChunks, next.xzChunks)

			_, err = next.Files([]Compression{Gzip, XZ})
			require.NoError(t, err)
			again, err := ix.Files([]Compression{Gzip, XZ})
			require.NoError(t, err)
			require.Equal(t, before, again, "Apply changed its parent")
		})
	}
}

// requireFewFresh checks that next, the chunks of an index that differs
// from that of old by one package, shares all but one or two chunks with
// old, that only those fresh ones still need compressing, and that they
// hold no more than the old chunks they replace plus a stanza.
func requireFewFresh(t *testing.T, old, next []*chunk) {
	t.Helper()
	inNext := map[*chunk]bool{}
	for _, c := range next {
		inNext[c] = true
	}
	inOld := map[*chunk]bool{}
	replaced := 0
	for _, c := range old {
		inOld[c] = true
		if !inNext[c] {
			replaced += textSize(c.items)
		}
	}
	var fresh []*chunk
	freshSize := 0
	for _, c := range next {
		if inOld[c] {
			require.NotNil(t, c.data, "a shared chunk is compressed already")
			continue
		}
		require.Nil(t, c.data, "a fresh chunk is not compressed yet")
		fresh = append(fresh, c)
		freshSize += textSize(c.items)
	}
	require.NotEmpty(t, fresh)
	require.LessOrEqual(t, len(fresh), 2)
	require.LessOrEqual(t, freshSize, replaced+2000, "fresh chunks hold more than the chunks they replace")
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
