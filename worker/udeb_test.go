package worker

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/store"
)

const installerPackages = "main/debian-installer/binary-amd64/Packages.gz"

// addUdebChange records a change adding a udeb (Package-Type: udeb) named
// name at its .udeb pool path, as the API does.
func (b *bundle) addUdebChange(t *testing.T, name, arch string) store.Change {
	t.Helper()
	p := b.uploadPackage(t, debtest.Options{Package: name, Version: "1.0", Architecture: arch,
		Extra: []debtest.Field{{Name: "Package-Type", Value: "udeb"}}})
	c, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, []store.ChangeAdd{{PackageID: p.ID,
		Component: "main", Architecture: p.Architecture,
		Filename: apt.UdebPoolPath("main", p.Source, p.Name, p.Version, p.Architecture)}}, nil)
	require.NoError(t, err)
	return c
}

// indexText returns the text of the round's index file at path, read from
// its by-hash object and its flat file (which must agree); "" when the
// round lists none.
func (b *bundle) indexText(t *testing.T, round store.Round, path string) (string, bool) {
	t.Helper()
	for _, f := range round.Files {
		if f.Path == path {
			data := b.read(t, distsKey(b.repo.Prefix, "stable", apt.ByHashPath(f.Path, "SHA256", f.SHA256)))
			require.Equal(t, data, b.read(t, distsKey(b.repo.Prefix, "stable", f.Path)))
			return gunzip(t, data), true
		}
	}
	return "", false
}

// TestUdebRounds: udebs go to main/debian-installer/binary-<arch> (arch
// all ones to every architecture's), .debs to binary-<arch>, neither to
// the other; the udebs' index appears with the first udeb, is edited from
// the cache by the worker that built it and rebuilt from the database by
// another with the same result, stays (empty) when its udebs are gone,
// and garbage collection deletes its by-hash objects with their
// generations.
func TestUdebRounds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	first := b.publishChanges(t, w, b.addArchChange(t, "plain", "amd64"))
	_, listed := b.indexText(t, first, installerPackages)
	require.False(t, listed, "no udeb yet: no debian-installer index")

	rounds := []store.Round{first, b.publishChanges(t, w, b.addUdebChange(t, "step-a", "amd64"))}
	di, listed := b.indexText(t, rounds[1], installerPackages)
	require.True(t, listed)
	require.Contains(t, di, "Package: step-a\nPackage-Type: udeb\n")
	require.Contains(t, di, "Filename: pool/main/s/step-a/step-a_1.0_amd64.udeb\n")
	regular, _ := b.indexText(t, rounds[1], "main/binary-amd64/Packages.gz")
	require.Contains(t, regular, "Package: plain\n")
	require.NotContains(t, regular, "step-a")
	require.NotContains(t, di, "plain")

	rounds = append(rounds, b.publishChanges(t, w, b.addUdebChange(t, "step-b", apt.ArchAll)))
	cached, _ := b.indexText(t, rounds[2], installerPackages)
	arm, _ := b.indexText(t, rounds[2], "main/debian-installer/binary-arm64/Packages.gz")
	require.Contains(t, arm, "Package: step-b\n")
	require.NotContains(t, arm, "step-a")

	// Another worker has no cache: it rebuilds the index from the database.
	other := b.worker("other")
	rm, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, nil,
		[]store.ChangeRemove{{Name: "step-a", Version: "1.0", Architecture: "amd64", Component: "main"}})
	require.NoError(t, err)
	rounds = append(rounds, b.publishChanges(t, other, rm))
	rebuilt, _ := b.indexText(t, rounds[3], installerPackages)
	require.Equal(t, strings.Replace(cached, stanzaOf(t, cached, "step-a"), "", 1), rebuilt)

	rm, err = b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, nil,
		[]store.ChangeRemove{{Name: "step-b", Version: "1.0", Architecture: apt.ArchAll, Component: "main"}})
	require.NoError(t, err)
	rounds = append(rounds, b.publishChanges(t, w, rm))
	empty, listed := b.indexText(t, rounds[4], installerPackages)
	require.True(t, listed, "the udebs' index stays once the component had one")
	require.Empty(t, empty)

	w.cfg.KeepGenerations, w.cfg.GCGrace = 2, time.Nanosecond
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	kept := map[string]bool{}
	for _, r := range rounds[3:] {
		for _, f := range r.Files {
			kept[f.SHA256] = true
		}
	}
	deleted := 0
	for _, r := range rounds {
		for _, f := range r.Files {
			if !strings.HasPrefix(f.Path, "main/debian-installer/") || f.ListedOnly {
				continue
			}
			_, err := b.blob.Head(b.ctx, distsKey(b.repo.Prefix, "stable", apt.ByHashPath(f.Path, "SHA256", f.SHA256)))
			require.Equal(t, kept[f.SHA256], err == nil, "generation %d's %s", r.Generation, f.Path)
			if !kept[f.SHA256] {
				deleted++
			}
		}
	}
	require.Positive(t, deleted, "older generations' udeb indexes are collected")
}

// stanzaOf is the stanza of package name in an index text.
func stanzaOf(t *testing.T, text, name string) string {
	t.Helper()
	for _, s := range strings.SplitAfter(text, "\n\n") {
		if strings.HasPrefix(s, "Package: "+name+"\n") {
			return s
		}
	}
	t.Fatalf("no stanza of %s", name)
	return ""
}
