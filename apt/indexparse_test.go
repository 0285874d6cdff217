package apt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func stanza(p *Package) []byte { return appendStanza(nil, p) }

// TestParseIndexRoundTrip: an index read back from its Packages file
// applies changes to the same files NewIndex gives for the result.
func TestParseIndexRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	var pkgs []Package
	for i := range 1500 {
		arch := "amd64"
		if i%7 == 0 {
			arch = ArchAll
		}
		pkgs = append(pkgs, synthPackage(rng, "main", fmt.Sprintf("pkg%04d", i/2), fmt.Sprintf("1.%d-1", i%2), arch))
	}
	ix, err := NewIndex("main", "amd64", pkgs[:1400])
	require.NoError(t, err)
	parsed, err := ParseIndex("main", "amd64", ix.Packages())
	require.NoError(t, err)
	require.Equal(t, ix.Len(), parsed.Len())
	require.True(t, bytes.Contains(ix.Packages(), stanza(&pkgs[5])))

	removes := []PackageKey{{Name: pkgs[3].Name(), Version: pkgs[3].Version(), Arch: pkgs[3].Arch()}}
	got, err := parsed.Apply(pkgs[1400:], removes)
	require.NoError(t, err)
	want, err := NewIndex("main", "amd64", append(append([]Package{}, pkgs[:3]...), pkgs[4:]...))
	require.NoError(t, err)
	require.Equal(t, want.Packages(), got.Packages())
	gotFiles, err := got.Files([]Compression{Gzip, XZ})
	require.NoError(t, err)
	wantFiles, err := want.Files([]Compression{Gzip, XZ})
	require.NoError(t, err)
	require.Equal(t, wantFiles, gotFiles)

	_, err = ParseIndex("main", "amd64", ix.Packages()[:len(ix.Packages())-1])
	require.ErrorContains(t, err, "not ended by a blank line")
	swapped := append(append([]byte{}, stanza(&pkgs[10])...), stanza(&pkgs[2])...)
	_, err = ParseIndex("main", "amd64", swapped)
	require.ErrorContains(t, err, "out of order")
	_, err = ParseIndex("main", "arm64", stanza(&pkgs[2]))
	require.ErrorContains(t, err, "does not belong in binary-arm64")
}

// TestXZBlocks: the Blocks of a multi-Block Packages.xz decode to the
// Packages file in order; a changed byte anywhere is an error.
func TestXZBlocks(t *testing.T) {
	t.Parallel()
	repo := synthRepo(6000)
	ix, err := NewIndex("main", "amd64", SplitByArch(repo["main"], []string{"amd64"})["amd64"])
	require.NoError(t, err)
	files, err := ix.Files([]Compression{XZ})
	require.NoError(t, err)
	blocks, err := XZBlocks(files[1].Data)
	require.NoError(t, err)
	require.Greater(t, len(blocks), 2)
	var all []byte
	for _, b := range blocks {
		text, err := b.Decode()
		require.NoError(t, err)
		all = append(all, text...)
	}
	require.Equal(t, ix.Packages(), all)

	empty, err := NewIndex("main", "amd64", nil)
	require.NoError(t, err)
	files, err = empty.Files([]Compression{XZ})
	require.NoError(t, err)
	blocks, err = XZBlocks(files[1].Data)
	require.NoError(t, err)
	require.Empty(t, blocks)

	files, err = ix.Files([]Compression{XZ})
	require.NoError(t, err)
	for _, at := range []int{3, 13, 200, len(files[1].Data) / 2, len(files[1].Data) - 30, len(files[1].Data) - 3} {
		bad := bytes.Clone(files[1].Data)
		bad[at] ^= 0x10
		blocks, err := XZBlocks(bad)
		if err == nil {
			for _, b := range blocks {
				if _, err = b.Decode(); err != nil {
					break
				}
			}
		}
		require.Error(t, err, "byte %d changed", at)
	}
}
