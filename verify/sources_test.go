package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

// source returns a source package's Sources entry and the Add that puts
// it in main, as the server lists it, from a .dsc whose orig tarball has
// the given SHA-256 digit.
func source(t *testing.T, name, version string, orig byte) (apt.Source, Add) {
	t.Helper()
	upstream, _, _ := strings.Cut(version, "-")
	sum := strings.Repeat(string(orig), 64)
	dsc := fmt.Sprintf("Format: 3.0 (quilt)\nSource: %s\nBinary: %s\nVersion: %s\nArchitecture: all\n"+
		"Files:\n %s 10 %s_%s.orig.tar.gz\nChecksums-Sha256:\n %s 10 %s_%s.orig.tar.gz\n",
		name, name, version, sum[:32], name, upstream, sum, name, upstream)
	d, err := apt.ParseDSC([]byte(dsc))
	require.NoError(t, err)
	s := apt.Source{Control: apt.SourceControl(d), Directory: apt.SourceDir("main", name)}
	return s, Add{SHA256: d.Self.SHA256, Name: name, Version: version, Architecture: apt.ArchSource, Component: "main",
		Filename: s.Directory + "/" + d.Self.Name, Size: d.Self.Size, MD5: d.Self.MD5, Control: s.Control.String()}
}

// sourcesRound builds generation gen on top of the fixture's binaries with
// Sources listing srcs (none listed when srcs is nil), its previous
// InRelease being prev.
func (fx *fixture) sourcesRound(t *testing.T, gen int64, prev []byte, srcs []apt.Source, changes ...Change) Round {
	t.Helper()
	files := fx.repo.indexFiles(t, fx.base)
	if srcs != nil {
		plain, err := apt.RenderSources(srcs)
		require.NoError(t, err)
		got, err := apt.SourcesFiles("main", plain, []apt.Compression{apt.Gzip, apt.XZ})
		require.NoError(t, err)
		for _, f := range got {
			fx.repo.store(f)
		}
		files = append(files, got...)
	}
	return Round{ID: 7, Generation: gen, Release: release(baseMeta, gen, files), PreviousInRelease: prev, Changes: changes}
}

func TestCheckSources(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	change := func(adds []Add, removes ...Remove) Change {
		return Change{ID: 11, JobID: 21, TokenName: "alice", Adds: adds, Removes: removes}
	}
	check := func(fx *fixture, r Round) error {
		return Check(ctx, Config{PublicKeys: [][]byte{fx.pub}, Now: testNow}, r, fx.repo)
	}
	fx := newFixture(t)
	hello1, addHello1 := source(t, "hello", "1.0-1", 'a')
	hello2, addHello2 := source(t, "hello", "1.0-2", 'a')
	evil, _ := source(t, "evil", "6.6.6", 'e')
	tampered, _ := source(t, "hello", "1.0-1", 'f') // the orig tarball swapped
	empty := []apt.Source{}

	// Generation 2 adds the first source: Sources appears.
	require.NoError(t, check(fx, fx.sourcesRound(t, 2, fx.prev, []apt.Source{hello1}, change([]Add{addHello1}))))
	for name, c := range map[string]struct {
		srcs []apt.Source
		adds []Add
		err  string
	}{
		"extra stanza":     {[]apt.Source{hello1, evil}, []Add{addHello1}, "not the previous generation's plus the round's source changes"},
		"altered stanza":   {[]apt.Source{tampered}, []Add{addHello1}, "not the previous generation's plus the round's source changes"},
		"no Sources":       {nil, []Add{addHello1}, "lists no main/source/Sources"},
		"source left out":  {empty, []Add{addHello1}, "not the previous generation's plus"},
		"stanza unrelated": {[]apt.Source{hello1}, []Add{withControl(addHello1, hello2)}, "its stanza says hello 1.0-2"},
		"not the uploaded .dsc": {[]apt.Source{hello1}, []Add{withSHA(addHello1, strings.Repeat("9", 64))},
			"does not list the uploaded .dsc"},
		"other directory": {[]apt.Source{hello1}, []Add{withFilename(addHello1, "pool/main/e/evil/hello_1.0-1.dsc")},
			"not in pool/main/h/hello"},
	} {
		err := check(fx, fx.sourcesRound(t, 2, fx.prev, c.srcs, change(c.adds)))
		require.ErrorContains(t, err, c.err, name)
	}

	// Generation 3 builds on a generation with Sources.
	inRelease, _, err := sign.Sign(fx.sourcesRound(t, 2, fx.prev, []apt.Source{hello1}).Release, fx.key)
	require.NoError(t, err)
	honest := map[string]struct {
		srcs   []apt.Source
		change Change
	}{
		"unchanged":         {[]apt.Source{hello1}, Change{ID: 12}},
		"second revision":   {[]apt.Source{hello1, hello2}, change([]Add{addHello2})},
		"remove the source": {empty, change(nil, Remove{Name: "hello", Version: "1.0-1", Architecture: apt.ArchSource, Component: "main"})},
	}
	for name, c := range honest {
		require.NoError(t, check(fx, fx.sourcesRound(t, 3, inRelease, c.srcs, c.change)), name)
	}
	for name, c := range map[string]struct {
		srcs   []apt.Source
		change Change
		err    string
	}{
		"dropped Sources":    {nil, Change{ID: 12}, "drops main/source/Sources"},
		"silently removed":   {empty, Change{ID: 12}, "not the previous generation's plus"},
		"slipped in":         {[]apt.Source{hello1, evil}, Change{ID: 12}, "not the previous generation's plus"},
		"remove not applied": {[]apt.Source{hello1}, change(nil, Remove{Name: "hello", Version: "1.0-1", Architecture: apt.ArchSource, Component: "main"}), "not the previous generation's plus"},
	} {
		require.ErrorContains(t, check(fx, fx.sourcesRound(t, 3, inRelease, c.srcs, c.change)), c.err, name)
	}
}

// TestCheckSourcesCompressed refuses a Sources.gz that does not decompress
// to the listed Sources, though Sources itself is right.
func TestCheckSourcesCompressed(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	hello1, addHello1 := source(t, "hello", "1.0-1", 'a')
	evil, _ := source(t, "evil", "6.6.6", 'e')
	r := fx.sourcesRound(t, 2, fx.prev, []apt.Source{hello1}, Change{ID: 11, Adds: []Add{addHello1}})
	rel, err := apt.ParseRelease(r.Release)
	require.NoError(t, err)
	bad, err := apt.RenderSources([]apt.Source{hello1, evil})
	require.NoError(t, err)
	files := fx.replaceFile(rel.Files, "main/source/Sources.gz", gzipOf(t, bad))
	r.Release = release(baseMeta, 2, files)
	err = Check(context.Background(), Config{PublicKeys: [][]byte{fx.pub}, Now: testNow}, r, fx.repo)
	require.ErrorContains(t, err, "main/source/Sources.gz does not decompress to the expected Sources")
}

func withControl(a Add, s apt.Source) Add { a.Control = s.Control.String(); return a }
func withSHA(a Add, sum string) Add       { a.SHA256 = sum; return a }
func withFilename(a Add, f string) Add    { a.Filename = f; return a }

// TestCheckOwnSources: the signer's own .dsc listed with another stanza
// (a swapped orig tarball) is refused, though Sources matches the round.
func TestCheckOwnSources(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	hello, add := source(t, "hello", "1.0-1", 'a')
	tampered, _ := source(t, "hello", "1.0-1", 'f')
	forged := withControl(add, tampered)
	cfg := Config{PublicKeys: [][]byte{fx.pub}, Now: testNow, OwnSources: map[string]string{add.SHA256: hello.Control.String()}}
	check := func(s apt.Source, a Add) error {
		return Check(context.Background(), cfg, fx.sourcesRound(t, 2, fx.prev, []apt.Source{s}, Change{ID: 11, JobID: 3, Adds: []Add{a}}), fx.repo)
	}
	require.NoError(t, check(hello, add))
	require.ErrorContains(t, check(tampered, forged), "change 11 (job 3) adds this CLI's source hello 1.0-1 with a Sources stanza that is not its .dsc's")
}
