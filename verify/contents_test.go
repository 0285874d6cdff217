package verify

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

// filesOf is the file list of a test package.
func filesOf(p apt.Package) []string {
	return []string{"usr/bin/" + p.Name(), "usr/share/doc/" + p.Name() + "/copyright"}
}

func contentsPkg(p apt.Package, files []string) apt.ContentsPackage {
	return apt.ContentsPackage{Key: apt.PackageKey{Name: p.Name(), Version: p.Version(), Arch: p.Arch()}, Files: files}
}

// contentsFiles renders the Contents indexes of pkgs (filesOf each, or
// files[name] where given) and stores them under by-hash.
func (r *fakeRepo) contentsFiles(t *testing.T, pkgs []apt.Package, files map[string][]string) []apt.IndexFile {
	var out []apt.IndexFile
	for _, arch := range archs {
		var cps []apt.ContentsPackage
		for _, p := range apt.SplitByArch(pkgs, archs)[arch] {
			f, ok := files[p.Name()]
			if !ok {
				f = filesOf(p)
			}
			cps = append(cps, contentsPkg(p, slices.Sorted(slices.Values(f))))
		}
		ct, err := apt.NewContents("main", arch, cps)
		require.NoError(t, err)
		f := ct.File()
		r.store(f)
		out = append(out, ct.Plain(), f)
	}
	return out
}

// contentsRound builds generation 2 with Contents from generation 1 with
// Contents; files overrides the file lists the new Contents are built from.
func contentsRound(t *testing.T, fx *fixture, indexed []apt.Package, files map[string][]string, changes ...Change) Round {
	inRelease, _, err := sign.Sign(release(baseMeta, 1, append(fx.repo.indexFiles(t, fx.base), fx.repo.contentsFiles(t, fx.base, nil)...)), fx.key)
	require.NoError(t, err)
	next := append(fx.repo.indexFiles(t, indexed), fx.repo.contentsFiles(t, indexed, files)...)
	return Round{ID: 7, Generation: 2, Release: release(baseMeta, 2, next), PreviousInRelease: inRelease, Changes: changes}
}

func addWithFiles(p apt.Package, files []string) Add {
	a := addOf(p)
	a.Files = files
	return a
}

// TestCheckContents: the signer refuses a Contents index with a path no
// added package holds, a package's path dropped without a change of it,
// an added file missing, a file list of its own package other than its
// .deb's, and accepts honest rounds.
func TestCheckContents(t *testing.T) {
	t.Parallel()
	alice := func(adds []Add, removes ...Remove) Change {
		return Change{ID: 11, JobID: 21, TokenName: "alice", Adds: adds, Removes: removes}
	}
	cases := []struct {
		name  string
		build func(t *testing.T, fx *fixture) (Config, Round)
		err   string
	}{
		{"honest add and remove", func(t *testing.T, fx *fixture) (Config, Round) {
			np := fx.others[0]
			return Config{OwnFiles: map[string][]string{np.SHA256: filesOf(np)}},
				contentsRound(t, fx, append(without(fx.base, 3), np), nil, alice([]Add{addWithFiles(np, filesOf(np))}, removeOf(fx.base[3])))
		}, ""},
		{"own file list taken from the .deb when the server gives none", func(t *testing.T, fx *fixture) (Config, Round) {
			np := fx.others[0]
			return Config{OwnFiles: map[string][]string{np.SHA256: filesOf(np)}},
				contentsRound(t, fx, append(slices.Clone(fx.base), np), nil, alice([]Add{addOf(np)}))
		}, ""},
		{"extra path for an added package", func(t *testing.T, fx *fixture) (Config, Round) {
			np := fx.others[0]
			return Config{}, contentsRound(t, fx, append(slices.Clone(fx.base), np),
				map[string][]string{np.Name(): append(filesOf(np), "usr/bin/sudo")}, alice([]Add{addWithFiles(np, filesOf(np))}))
		}, "main/Contents-amd64.gz lists usr/bin/sudo under newpkg, which no package the round adds holds"},
		{"extra path for a package of no change", func(t *testing.T, fx *fixture) (Config, Round) {
			np := fx.others[0]
			return Config{}, contentsRound(t, fx, append(slices.Clone(fx.base), np),
				map[string][]string{"base01": append(filesOf(fx.base[1]), "etc/sudoers.d/evil")}, alice([]Add{addWithFiles(np, filesOf(np))}))
		}, "lists etc/sudoers.d/evil under base01, which no package the round adds holds"},
		{"added file missing", func(t *testing.T, fx *fixture) (Config, Round) {
			np := fx.others[0]
			return Config{}, contentsRound(t, fx, append(slices.Clone(fx.base), np),
				map[string][]string{np.Name(): filesOf(np)[:1]}, alice([]Add{addWithFiles(np, filesOf(np))}))
		}, "main/Contents-amd64.gz does not list usr/share/doc/newpkg/copyright under newpkg, which the round adds"},
		{"path of an unchanged package dropped", func(t *testing.T, fx *fixture) (Config, Round) {
			np := fx.others[0]
			return Config{}, contentsRound(t, fx, append(slices.Clone(fx.base), np),
				map[string][]string{"base01": nil}, alice([]Add{addWithFiles(np, filesOf(np))}))
		}, "drops usr/bin/base01 from base01, of which the round neither adds nor removes a version"},
		{"file list of its own package changed by the server", func(t *testing.T, fx *fixture) (Config, Round) {
			np := fx.others[0]
			evil := append(filesOf(np), "usr/bin/sudo")
			return Config{OwnFiles: map[string][]string{np.SHA256: filesOf(np)}}, contentsRound(t, fx, append(slices.Clone(fx.base), np),
				map[string][]string{np.Name(): evil}, alice([]Add{addWithFiles(np, evil)}))
		}, "change 11 adds newpkg 2.0 amd64 with a file list other than the one its .deb holds"},
		{"no file list for another client's package", func(t *testing.T, fx *fixture) (Config, Round) {
			np := fx.others[0]
			return Config{}, contentsRound(t, fx, append(slices.Clone(fx.base), np), nil, alice([]Add{addOf(np)}))
		}, "main/Contents-amd64.gz: the round gives no file list for newpkg 2.0 amd64"},
		{"Contents turned on by a listed update", func(t *testing.T, fx *fixture) (Config, Round) {
			np := fx.others[0]
			on := true
			next := append(fx.repo.indexFiles(t, append(slices.Clone(fx.base), np)), fx.repo.contentsFiles(t, append(slices.Clone(fx.base), np), nil)...)
			return Config{}, Round{ID: 7, Generation: 2, Release: release(baseMeta, 2, next), PreviousInRelease: fx.prev,
				Changes: []Change{{ID: 12, TokenName: "alice", Update: &Update{Contents: &on}}, alice([]Add{addWithFiles(np, filesOf(np))})}}
		}, ""},
		{"new Contents without a listed update", func(t *testing.T, fx *fixture) (Config, Round) {
			next := append(fx.repo.indexFiles(t, fx.base), fx.repo.contentsFiles(t, fx.base, nil)...)
			return Config{}, Round{ID: 7, Generation: 2, Release: release(baseMeta, 2, next), PreviousInRelease: fx.prev,
				Changes: []Change{{ID: 12, TokenName: "alice"}}}
		}, "which no package the round adds holds"},
		{"Contents turned on, an added file missing", func(t *testing.T, fx *fixture) (Config, Round) {
			np := fx.others[0]
			on := true
			pkgs := append(slices.Clone(fx.base), np)
			next := append(fx.repo.indexFiles(t, pkgs), fx.repo.contentsFiles(t, pkgs, map[string][]string{np.Name(): nil})...)
			return Config{}, Round{ID: 7, Generation: 2, Release: release(baseMeta, 2, next), PreviousInRelease: fx.prev,
				Changes: []Change{{ID: 12, TokenName: "alice", Update: &Update{Contents: &on}}, alice([]Add{addWithFiles(np, filesOf(np))})}}
		}, "does not list usr/bin/newpkg under newpkg, which the round adds"},
		{"Contents turned off by a listed update", func(t *testing.T, fx *fixture) (Config, Round) {
			off := false
			r := contentsRound(t, fx, fx.base, nil, Change{ID: 12, TokenName: "alice", Update: &Update{Contents: &off}})
			r.Release = release(baseMeta, 2, fx.repo.indexFiles(t, fx.base))
			return Config{}, r
		}, ""},
		{"new architecture: its Contents lists the Architecture: all packages", func(t *testing.T, fx *fixture) (Config, Round) {
			return newArchRound(t, fx, nil)
		}, ""},
		{"new architecture: its Contents lists a path of no package", func(t *testing.T, fx *fixture) (Config, Round) {
			return newArchRound(t, fx, []string{"usr/bin/sudo"})
		}, "main/Contents-riscv64.gz lists usr/bin/sudo under base00, which no package the round adds holds"},
		{"Contents dropped", func(t *testing.T, fx *fixture) (Config, Round) {
			r := contentsRound(t, fx, fx.base, nil, Change{ID: 12, TokenName: "alice"})
			r.Release = release(baseMeta, 2, fx.repo.indexFiles(t, fx.base))
			return Config{}, r
		}, "the Release to sign drops main/Contents-amd64.gz"},
		{"Contents of an unknown architecture", func(t *testing.T, fx *fixture) (Config, Round) {
			r := contentsRound(t, fx, fx.base, nil, Change{ID: 12, TokenName: "alice"})
			ct, err := apt.NewContents("main", "riscv64", nil)
			require.NoError(t, err)
			r.Release = release(baseMeta, 2, append(append(fx.repo.indexFiles(t, fx.base), fx.repo.contentsFiles(t, fx.base, nil)...), ct.Plain(), ct.File()))
			return Config{}, r
		}, "main/Contents-riscv64 is not a Contents index of the release's components and architectures"},
		{"uncompressed Contents listed with other digests", func(t *testing.T, fx *fixture) (Config, Round) {
			r := contentsRound(t, fx, fx.base, nil, Change{ID: 12, TokenName: "alice"})
			files := append(fx.repo.indexFiles(t, fx.base), fx.repo.contentsFiles(t, fx.base, nil)...)
			files = fx.replaceFile(files, "main/Contents-amd64", []byte("usr/bin/sudo\tevil\n"))
			r.Release = release(baseMeta, 2, files)
			return Config{}, r
		}, "main/Contents-amd64 is not what main/Contents-amd64.gz decompresses to"},
		{"non-canonical Contents (a path twice), even in a fresh index", func(t *testing.T, fx *fixture) (Config, Round) {
			on := true
			r := Round{ID: 7, Generation: 2, PreviousInRelease: fx.prev, Changes: []Change{{ID: 12, TokenName: "alice", Update: &Update{Contents: &on}}}}
			files := append(fx.repo.indexFiles(t, fx.base), fx.repo.contentsFiles(t, fx.base, nil)...)
			text := []byte("usr/bin/a\tx\nusr/bin/a\ty\n")
			files = fx.replaceFile(files, "main/Contents-amd64.gz", gzipOf(t, text))
			files = fx.replaceFile(files, "main/Contents-amd64", text)
			r.Release = release(baseMeta, 2, files)
			return Config{}, r
		}, "is not after"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			cfg, r := tc.build(t, fx)
			cfg.PublicKeys = append(cfg.PublicKeys, fx.pub)
			cfg.Now = testNow
			err := Check(context.Background(), cfg, r, fx.repo)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.err, fmt.Sprintf("%v", err))
		})
	}
}

// BenchmarkCheckContents is the signer's check of one Contents-amd64 of
// 20 000 packages of 30 files after a round that adds one package: two
// fetches, two decompressions and a walk of both texts.
func BenchmarkCheckContents(b *testing.B) {
	pkgs := make([]apt.ContentsPackage, 20001)
	for i := range pkgs {
		name := fmt.Sprintf("pkg%05d", i)
		p := apt.ContentsPackage{Key: apt.PackageKey{Name: name, Version: "1.0-1", Arch: "amd64"}, Section: "utils"}
		p.Files = append(p.Files, "usr/bin/"+name, "usr/share/doc/"+name+"/copyright")
		for j := range 28 {
			p.Files = append(p.Files, fmt.Sprintf("usr/lib/x86_64-linux-gnu/%s/module%02d.so", name, j))
		}
		slices.Sort(p.Files)
		pkgs[i] = p
	}
	repo := &fakeRepo{objects: map[string][]byte{}}
	files := func(ct *apt.Contents) *contentsFiles {
		gz := ct.File()
		repo.store(gz)
		return &contentsFiles{plain: ct.Plain(), gz: gz}
	}
	prevCt, err := apt.NewContents("main", "amd64", pkgs[:20000])
	require.NoError(b, err)
	nextCt, err := prevCt.Apply(pkgs[20000:], nil)
	require.NoError(b, err)
	k := indexPair{"main", "amd64"}
	prev, next := map[indexPair]*contentsFiles{k: files(prevCt)}, map[indexPair]*contentsFiles{k: files(nextCt)}
	add := Add{Name: "pkg20000", Version: "1.0-1", Architecture: "amd64", Component: "main",
		Control: "Package: pkg20000\nVersion: 1.0-1\nArchitecture: amd64\nSection: utils\n", Files: pkgs[20000].Files}
	changes := []Change{{ID: 1, Adds: []Add{add}}}
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		if err := checkContents(context.Background(), prev, next, changes, repo); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// newArchRound adds architecture riscv64 by a listed update: its indexes
// hold the Architecture: all packages, base00 with extra files.
func newArchRound(t *testing.T, fx *fixture, extra []string) (Config, Round) {
	prevFiles := append(fx.repo.indexFiles(t, fx.base), fx.repo.contentsFiles(t, fx.base, nil)...)
	inRelease, _, err := sign.Sign(release(baseMeta, 1, prevFiles), fx.key)
	require.NoError(t, err)
	meta := baseMeta
	meta.Architectures = []string{"amd64", "arm64", "riscv64"}
	allPkgs := apt.SplitByArch(fx.base, []string{"riscv64"})["riscv64"]
	files, err := apt.GenerateIndexes("main", "riscv64", allPkgs, []apt.Compression{apt.Gzip, apt.XZ})
	require.NoError(t, err)
	var cps []apt.ContentsPackage
	for _, p := range allPkgs {
		f := filesOf(p)
		if p.Name() == "base00" {
			f = slices.Sorted(slices.Values(append(f, extra...)))
		}
		cps = append(cps, contentsPkg(p, f))
	}
	ct, err := apt.NewContents("main", "riscv64", cps)
	require.NoError(t, err)
	for _, f := range files {
		fx.repo.store(f)
	}
	fx.repo.store(ct.File())
	next := append(append(prevFiles, files...), ct.Plain(), ct.File())
	update := Change{ID: 12, TokenName: "alice", Update: &Update{AddArchitectures: []string{"riscv64"}}}
	return Config{}, Round{ID: 7, Generation: 2, Release: release(meta, 2, next), PreviousInRelease: inRelease, Changes: []Change{update}}
}
