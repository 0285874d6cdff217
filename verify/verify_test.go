package verify

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

var archs = []string{"amd64", "arm64"}

// fakeRepo publishes generations as the worker does, keeping every by-hash
// object, and serves them as a Fetcher.
type fakeRepo struct {
	objects map[string][]byte // dir + "/" + sha256
}

func (r *fakeRepo) ByHash(_ context.Context, dir, sum string, maxSize int64) ([]byte, error) {
	data, ok := r.objects[dir+"/"+sum]
	if !ok {
		return nil, fmt.Errorf("%s/by-hash/SHA256/%s: %w", dir, sum, ErrNotFound)
	}
	if int64(len(data)) > maxSize {
		return nil, fmt.Errorf("larger than %d bytes", maxSize)
	}
	return data, nil
}

// store keeps a file under by-hash; path is <dir>/<name>.
func (r *fakeRepo) store(f apt.IndexFile) {
	dir := f.Path[:bytes.LastIndexByte([]byte(f.Path), '/')]
	r.objects[dir+"/"+f.SHA256] = f.Data
}

func pkg(name, version, arch string) apt.Package {
	control := apt.Paragraph{{Name: "Package", Value: name}, {Name: "Version", Value: version},
		{Name: "Architecture", Value: arch}, {Name: "Maintainer", Value: "A <a@example.com>"},
		{Name: "Description", Value: "the " + name + " package\n more about it"}}
	sum := fmt.Sprintf("%064x", len(name)*1000+len(version)*10+len(arch))
	return apt.Package{Control: control, Filename: apt.PoolPath("main", name, name, version, arch),
		Size: int64(100 + len(name)), SHA256: sum, MD5: sum[:32]}
}

func addOf(p apt.Package) Add {
	return Add{SHA256: p.SHA256, Name: p.Name(), Version: p.Version(), Architecture: p.Arch(), Component: "main",
		Filename: p.Filename, Size: p.Size, MD5: p.MD5, SHA1: p.SHA1, SHA512: p.SHA512, Control: string(p.Control.AppendTo(nil))}
}

func removeOf(p apt.Package) Remove {
	return Remove{Name: p.Name(), Version: p.Version(), Architecture: p.Arch(), Component: "main"}
}

var baseMeta = apt.ReleaseMeta{Origin: "o", Label: "l", Suite: "stable", Codename: "stable",
	Architectures: archs, Components: []string{"main"}}

// indexFiles renders the indexes of pkgs and stores them under by-hash.
func (r *fakeRepo) indexFiles(t *testing.T, pkgs []apt.Package) []apt.IndexFile {
	var files []apt.IndexFile
	for _, arch := range archs {
		got, err := apt.GenerateIndexes("main", arch, apt.SplitByArch(pkgs, archs)[arch], []apt.Compression{apt.Gzip, apt.XZ})
		require.NoError(t, err)
		for _, f := range got {
			r.store(f)
		}
		files = append(files, got...)
	}
	return files
}

// testNow is the signer's clock in the tests: shortly after the
// generations that release dates.
var testNow = time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)

// release builds generation gen's Release, dated gen minutes after the
// start of 2026.
func release(meta apt.ReleaseMeta, gen int64, files []apt.IndexFile) []byte {
	meta.Generation = gen
	meta.Date = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(gen) * time.Minute)
	return apt.BuildRelease(meta, files)
}

type fixture struct {
	repo   *fakeRepo
	key    *sign.Signer
	pub    []byte
	prev   []byte // generation 1's InRelease
	base   []apt.Package
	others []apt.Package
}

func newFixture(t *testing.T) *fixture {
	priv, pub, err := sign.GenerateKey("signer", "s@example.com")
	require.NoError(t, err)
	key, err := sign.ParsePrivateKey(priv, nil)
	require.NoError(t, err)
	fx := &fixture{repo: &fakeRepo{objects: map[string][]byte{}}, key: key, pub: pub}
	for i := range 40 {
		arch := archs[i%2]
		if i%5 == 0 {
			arch = apt.ArchAll
		}
		fx.base = append(fx.base, pkg(fmt.Sprintf("base%02d", i), "1.0-1", arch))
	}
	fx.others = []apt.Package{pkg("newpkg", "2.0", "amd64"), pkg("evil", "6.6.6", "amd64")}
	inRelease, _, err := sign.Sign(release(baseMeta, 1, fx.repo.indexFiles(t, fx.base)), key)
	require.NoError(t, err)
	fx.prev = inRelease
	return fx
}

// round builds generation 2 from the packages the index should hold.
func (fx *fixture) round(t *testing.T, indexed []apt.Package, changes ...Change) Round {
	return Round{ID: 7, Generation: 2, Release: release(baseMeta, 2, fx.repo.indexFiles(t, indexed)),
		PreviousInRelease: fx.prev, Changes: changes}
}

func without(pkgs []apt.Package, drop ...int) []apt.Package {
	var out []apt.Package
	for i, p := range pkgs {
		if !containsInt(drop, i) {
			out = append(out, p)
		}
	}
	return out
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// replaceFile lists data as the index file path in a Release built from files.
func (fx *fixture) replaceFile(files []apt.IndexFile, path string, data []byte) []apt.IndexFile {
	out := append([]apt.IndexFile(nil), files...)
	for i := range out {
		if out[i].Path == path {
			out[i] = apt.IndexFile{Path: path, Data: data, Size: int64(len(data)), SHA256: sha256Hex(data)}
			fx.repo.store(out[i])
		}
	}
	return out
}

func gzipOf(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func TestCheck(t *testing.T) {
	t.Parallel()
	alice := func(adds []Add, removes ...Remove) Change {
		return Change{ID: 11, JobID: 21, TokenName: "alice", Adds: adds, Removes: removes}
	}
	cases := []struct {
		name  string
		build func(t *testing.T, fx *fixture) (Config, Round)
		err   string
	}{
		{"honest round", func(t *testing.T, fx *fixture) (Config, Round) {
			r := fx.round(t, append(without(fx.base, 3), fx.others[0]), alice([]Add{addOf(fx.others[0])}, removeOf(fx.base[3])))
			return Config{OwnChange: 11, OwnAdds: map[int64][]string{11: {fx.others[0].SHA256}}}, r
		}, ""},
		{"resign: no changes, same indexes", func(t *testing.T, fx *fixture) (Config, Round) {
			return Config{}, fx.round(t, fx.base, Change{ID: 12, TokenName: "alice"})
		}, ""},
		{"rollback: adds and removes", func(t *testing.T, fx *fixture) (Config, Round) {
			return Config{}, fx.round(t, append(without(fx.base, 0, 1), fx.others[0]),
				alice([]Add{addOf(fx.others[0])}, removeOf(fx.base[0]), removeOf(fx.base[1])))
		}, ""},
		{"uncompressed Packages not stored", func(t *testing.T, fx *fixture) (Config, Round) {
			r := fx.round(t, append(append([]apt.Package{}, fx.base...), fx.others[0]), alice([]Add{addOf(fx.others[0])}))
			for k, data := range fx.repo.objects {
				if bytes.HasPrefix(data, []byte("Package: ")) {
					delete(fx.repo.objects, k)
				}
			}
			return Config{}, r
		}, ""},
		{"injected stanza", func(t *testing.T, fx *fixture) (Config, Round) {
			return Config{}, fx.round(t, append(append([]apt.Package{}, fx.base...), fx.others...), alice([]Add{addOf(fx.others[0])}))
		}, "it lists evil 6.6.6 amd64, which no change of the round adds"},
		{"missing add", func(t *testing.T, fx *fixture) (Config, Round) {
			return Config{}, fx.round(t, fx.base, alice([]Add{addOf(fx.others[0])}))
		}, "it lacks newpkg 2.0 amd64"},
		{"extra remove", func(t *testing.T, fx *fixture) (Config, Round) {
			return Config{}, fx.round(t, append(without(fx.base, 1, 3), fx.others[0]), alice([]Add{addOf(fx.others[0])}, removeOf(fx.base[3])))
		}, "it lacks base01 1.0-1"},
		{"tampered .gz", func(t *testing.T, fx *fixture) (Config, Round) {
			evil := fx.repo.indexFiles(t, append(append([]apt.Package{}, fx.base...), fx.others...))
			honest := fx.repo.indexFiles(t, append(append([]apt.Package{}, fx.base...), fx.others[0]))
			files := fx.replaceFile(honest, "main/binary-amd64/Packages.gz", gzipOf(t, evil[0].Data))
			return Config{}, Round{ID: 7, Generation: 2, Release: release(baseMeta, 2, files), PreviousInRelease: fx.prev,
				Changes: []Change{alice([]Add{addOf(fx.others[0])})}}
		}, "main/binary-amd64/Packages.gz does not decompress to the Packages the round's changes give"},
		{"tampered .xz", func(t *testing.T, fx *fixture) (Config, Round) {
			evil := fx.repo.indexFiles(t, append(append([]apt.Package{}, fx.base...), fx.others...))
			honest := fx.repo.indexFiles(t, append(append([]apt.Package{}, fx.base...), fx.others[0]))
			files := fx.replaceFile(honest, "main/binary-amd64/Packages.xz", evil[2].Data)
			return Config{}, Round{ID: 7, Generation: 2, Release: release(baseMeta, 2, files), PreviousInRelease: fx.prev,
				Changes: []Change{alice([]Add{addOf(fx.others[0])})}}
		}, "main/binary-amd64/Packages.xz does not decompress to the Packages the round's changes give"},
		{"wrong size", func(t *testing.T, fx *fixture) (Config, Round) {
			files := fx.repo.indexFiles(t, append(append([]apt.Package{}, fx.base...), fx.others[0]))
			for i := range files {
				if files[i].Path == "main/binary-amd64/Packages.gz" {
					files[i].Size++
				}
			}
			return Config{}, Round{ID: 7, Generation: 2, Release: release(baseMeta, 2, files), PreviousInRelease: fx.prev,
				Changes: []Change{alice([]Add{addOf(fx.others[0])})}}
		}, "is not what the Release lists"},
		{"previous InRelease signed by an unknown key", func(t *testing.T, fx *fixture) (Config, Round) {
			_, other, err := sign.GenerateKey("other", "o@example.com")
			require.NoError(t, err)
			return Config{PublicKeys: [][]byte{other}}, fx.round(t, fx.base)
		}, "generation 1 is not signed by any key this CLI signs with"},
		{"changed Origin", func(t *testing.T, fx *fixture) (Config, Round) {
			meta := baseMeta
			meta.Origin = "evil"
			return Config{}, Round{ID: 7, Generation: 2, Release: release(meta, 2, fx.repo.indexFiles(t, fx.base)), PreviousInRelease: fx.prev}
		}, `the Release to sign changes Origin: "evil", generation 1 says Origin: "o"`},
		{"--accept-from rejects another submitter", func(t *testing.T, fx *fixture) (Config, Round) {
			mallory := Change{ID: 13, JobID: 23, TokenName: "mallory", Adds: []Add{addOf(fx.others[1])}}
			return Config{AcceptFrom: []string{"alice"}}, fx.round(t, append(append([]apt.Package{}, fx.base...), fx.others...),
				alice([]Add{addOf(fx.others[0])}), mallory)
		}, "change 13 (job 23) was submitted by mallory, which --accept-from does not name (alice)"},
		{"own change adds another package", func(t *testing.T, fx *fixture) (Config, Round) {
			return Config{OwnChange: 11, OwnAdds: map[int64][]string{11: {fx.others[1].SHA256}}},
				fx.round(t, append(append([]apt.Package{}, fx.base...), fx.others[0]), alice([]Add{addOf(fx.others[0])}))
		}, "this CLI's change 11 adds packages"},
		{"two own changes in one round", func(t *testing.T, fx *fixture) (Config, Round) {
			second := Change{ID: 12, JobID: 22, TokenName: "alice", Adds: []Add{addOf(fx.others[1])}}
			return Config{OwnChange: 12, OwnAdds: map[int64][]string{11: {fx.others[0].SHA256}, 12: {fx.others[1].SHA256}}},
				fx.round(t, append(append([]apt.Package{}, fx.base...), fx.others...), alice([]Add{addOf(fx.others[0])}), second)
		}, ""},
		{"another own change of the round adds another package", func(t *testing.T, fx *fixture) (Config, Round) {
			second := Change{ID: 12, JobID: 22, TokenName: "alice", Adds: []Add{addOf(fx.others[1])}}
			return Config{OwnChange: 12, OwnAdds: map[int64][]string{11: {fx.others[1].SHA256}, 12: {fx.others[1].SHA256}}},
				fx.round(t, append(append([]apt.Package{}, fx.base...), fx.others...), alice([]Add{addOf(fx.others[0])}), second)
		}, "this CLI's change 11 adds packages"},
		{"followed change missing from the round", func(t *testing.T, fx *fixture) (Config, Round) {
			return Config{OwnChange: 12, OwnAdds: map[int64][]string{11: {fx.others[0].SHA256}, 12: {fx.others[1].SHA256}}},
				fx.round(t, append(append([]apt.Package{}, fx.base...), fx.others[0]), alice([]Add{addOf(fx.others[0])}))
		}, "this CLI's change 12 is not among the round's changes"},
		{"an add whose control says another package", func(t *testing.T, fx *fixture) (Config, Round) {
			a := addOf(fx.others[0])
			a.Name = "innocent"
			return Config{}, fx.round(t, append(append([]apt.Package{}, fx.base...), fx.others[0]), alice([]Add{a}))
		}, "but its control paragraph says newpkg"},
		{"older Date", func(t *testing.T, fx *fixture) (Config, Round) {
			meta := baseMeta
			meta.Generation, meta.Date = 2, time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC) // generation 1: 00:01
			return Config{}, Round{ID: 7, Generation: 2, Release: apt.BuildRelease(meta, fx.repo.indexFiles(t, fx.base)), PreviousInRelease: fx.prev}
		}, "not after generation 1's"},
		{"no previous InRelease beyond generation 1", func(t *testing.T, fx *fixture) (Config, Round) {
			r := fx.round(t, fx.base)
			r.PreviousInRelease = nil
			return Config{}, r
		}, "the server gave no InRelease for generation 1"},
		{"generation 1 of an empty release", func(t *testing.T, fx *fixture) (Config, Round) {
			return Config{}, Round{ID: 1, Generation: 1, Release: release(baseMeta, 1, fx.repo.indexFiles(t, fx.others[:1])),
				Changes: []Change{alice([]Add{addOf(fx.others[0])})}}
		}, ""},
		{"generation 1 with more than its changes", func(t *testing.T, fx *fixture) (Config, Round) {
			return Config{}, Round{ID: 1, Generation: 1, Release: release(baseMeta, 1, fx.repo.indexFiles(t, fx.others)),
				Changes: []Change{alice([]Add{addOf(fx.others[0])})}}
		}, "it lists evil 6.6.6 amd64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			cfg, r := tc.build(t, fx)
			if cfg.PublicKeys == nil {
				cfg.PublicKeys = [][]byte{fx.pub}
			}
			cfg.Now = testNow
			err := Check(context.Background(), cfg, r, fx.repo)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestCheckXZBlocksReused: on an index of several xz Blocks, a round that
// changes one package decodes only its Block; a Packages.xz whose changed
// Block (or an unchanged-looking one) carries another stanza is refused.
func TestCheckXZBlocksReused(t *testing.T) {
	t.Parallel()
	priv, pub, err := sign.GenerateKey("signer", "s@example.com")
	require.NoError(t, err)
	key, err := sign.ParsePrivateKey(priv, nil)
	require.NoError(t, err)
	repo := &fakeRepo{objects: map[string][]byte{}}
	meta := baseMeta
	meta.Architectures = []string{"amd64"}
	var pkgs []apt.Package
	for i := range 3000 {
		pkgs = append(pkgs, pkg(fmt.Sprintf("p%04d", i), "1.0", "amd64"))
	}
	files := func(pkgs []apt.Package) []apt.IndexFile {
		got, err := apt.GenerateIndexes("main", "amd64", pkgs, []apt.Compression{apt.Gzip, apt.XZ})
		require.NoError(t, err)
		for _, f := range got {
			repo.store(f)
		}
		return got
	}
	prevFiles := files(pkgs[:2999])
	blocks, err := apt.XZBlocks(prevFiles[2].Data)
	require.NoError(t, err)
	require.Greater(t, len(blocks), 3)
	inRelease, _, err := sign.Sign(release(meta, 1, prevFiles), key)
	require.NoError(t, err)
	cfg := Config{PublicKeys: [][]byte{pub}, Now: testNow}
	changes := []Change{{ID: 1, TokenName: "ci", Adds: []Add{addOf(pkgs[2999])}}}

	honest := files(pkgs)
	r := Round{ID: 2, Generation: 2, Release: release(meta, 2, honest), PreviousInRelease: inRelease, Changes: changes}
	require.NoError(t, Check(context.Background(), cfg, r, repo))

	// Packages and Packages.gz honest, Packages.xz of an index with one
	// more package in another Block.
	evil := files(append(append([]apt.Package{}, pkgs...), pkg("p0100a", "6.6.6", "amd64")))
	tampered := append([]apt.IndexFile{}, honest[:2]...)
	tampered = append(tampered, apt.IndexFile{Path: evil[2].Path, Data: evil[2].Data, Size: evil[2].Size, SHA256: evil[2].SHA256})
	r.Release = release(meta, 2, tampered)
	require.ErrorContains(t, Check(context.Background(), cfg, r, repo),
		"main/binary-amd64/Packages.xz does not decompress to the Packages the round's changes give")
}
