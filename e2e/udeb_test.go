package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob/blobtest"
)

// udebTarget makes apt fetch <component>/debian-installer/binary-<arch>/
// Packages as a Packages index (the debian-installer's own apt setup).
const udebTarget = `Acquire::IndexTargets::deb::Packages-udeb {
	MetaKey "$(COMPONENT)/debian-installer/binary-$(ARCHITECTURE)/Packages";
	ShortDescription "Packages (udeb)";
	Description "$(RELEASE)/$(COMPONENT) debian-installer $(ARCHITECTURE) Packages";
	Identifier "Packages";
};
`

// buildUdeb builds a real udeb with dpkg-deb into dir and returns its path.
func buildUdeb(t *testing.T, dir, name, version string) string {
	t.Helper()
	root := filepath.Join(dir, name+"-root")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "usr/lib", name), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/lib", name, "step"), []byte("#!/bin/sh\n"), 0o755))
	control := fmt.Sprintf("Package: %s\nPackage-Type: udeb\nVersion: %s\nArchitecture: amd64\n"+
		"Section: debian-installer\nPriority: standard\nMaintainer: aptq <aptq@example.org>\n"+
		"Description: installer step %s\n", name, version, name)
	require.NoError(t, os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte(control), 0o644))
	out := filepath.Join(dir, name+"_"+version+"_amd64.udeb")
	b, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, out).CombinedOutput()
	require.NoError(t, err, string(b))
	return out
}

// TestUdebPublished: a real udeb (dpkg-deb) added by `aptq pkg add` beside
// a .deb is listed in main/debian-installer/binary-amd64/Packages only (the
// .deb in binary-amd64 only, Contents names no udeb file), by-hash too; a
// real apt-get with the debian-installer index target fetches and verifies
// it, and the pool file it lists matches its listed hash; pkg list/show
// show it; reconcile restores its deleted flat and by-hash files; its
// removal leaves the (empty) index listed.
func TestUdebPublished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("di", "stable")
	udeb := buildUdeb(t, b.dir, "di-step", "1.0")
	deb := writeDeb(t, b.dir, debtest.Options{Package: "hello", Version: "1.0", Architecture: "amd64",
		Files: []string{"./usr/bin/hello"}})
	b.mustCLI("pkg", "add", "--repo", "di", "--release", "stable", "--key", key, deb, udeb)

	ctx := context.Background()
	dists := b.URL + "/apt/" + b.Tenant + "/di/dists/stable/"
	regular, status, err := getPackages(ctx, dists+"main/binary-amd64/Packages")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Contains(t, string(regular), "Package: hello\n")
	require.NotContains(t, string(regular), "di-step")
	di, status, err := getPackages(ctx, dists+"main/debian-installer/binary-amd64/Packages")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Contains(t, string(di), "Package: di-step\nPackage-Type: udeb\n")
	require.Contains(t, string(di), "Filename: pool/main/d/di-step/di-step_1.0_amd64.udeb\n")
	require.NotContains(t, string(di), "Package: hello")
	release, status, err := get(ctx, dists+"InRelease")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Contains(t, string(release), " main/debian-installer/binary-amd64/Packages.gz\n")
	gz, _, err := get(ctx, dists+"main/debian-installer/binary-amd64/Packages.gz")
	require.NoError(t, err)
	sum := sha256.Sum256(gz)
	byHash, status, err := get(ctx, dists+"main/debian-installer/binary-amd64/by-hash/SHA256/"+hex.EncodeToString(sum[:]))
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Equal(t, gz, byHash)
	contents, status, err := get(ctx, dists+"main/Contents-amd64.gz")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	zr, err := gzip.NewReader(bytes.NewReader(contents))
	require.NoError(t, err)
	text, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Contains(t, string(text), "usr/bin/hello")
	require.NotContains(t, string(text), "di-step")

	pub, err := os.ReadFile(pubKeyFile(key))
	require.NoError(t, err)
	a := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/di", "stable", "main", string(pub))
	require.NoError(t, a.AddConf("udeb.conf", udebTarget))
	// apt fetches the udebs' index and checks it against the signed
	// InRelease (a mismatch is a W: line, which run refuses); its cache
	// does not take udebs, so the pool file is fetched as the installer
	// does: by the index's Filename, checked against its SHA256.
	require.Contains(t, a.run("update"), " stable/main debian-installer amd64 Packages")
	lists, err := filepath.Glob(filepath.Join(a.Dir, "lists", "*_main_debian-installer_binary-amd64_Packages*"))
	require.NoError(t, err)
	require.Len(t, lists, 1)
	stanza, err := apt.ParseParagraph(di)
	require.NoError(t, err)
	pool, status, err := get(ctx, b.URL+"/apt/"+b.Tenant+"/di/"+stanza.Get("Filename"))
	require.NoError(t, err)
	require.Equal(t, 200, status)
	poolSum := sha256.Sum256(pool)
	require.Equal(t, stanza.Get("SHA256"), hex.EncodeToString(poolSum[:]))
	want, err := os.ReadFile(udeb)
	require.NoError(t, err)
	require.Equal(t, want, pool)

	// Reconcile checks and repairs the udebs' index, flat and by-hash.
	s3, _ := blobtest.New(t)
	diKey := b.Tenant + "/di/dists/stable/main/debian-installer/binary-amd64/"
	require.NoError(t, s3.Delete(ctx, diKey+"Packages.gz"))
	require.NoError(t, s3.Delete(ctx, diKey+"by-hash/SHA256/"+hex.EncodeToString(sum[:])))
	out := b.mustCLI("release", "reconcile", "--repo", "di", "--release", "stable")
	require.Contains(t, out, "generation 1: repaired 2 objects")
	require.Contains(t, out, "main/debian-installer/binary-amd64/Packages.gz: missing")
	restored, status, err := get(ctx, dists+"main/debian-installer/binary-amd64/Packages.gz")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Equal(t, gz, restored)
	byHash, status, err = get(ctx, dists+"main/debian-installer/binary-amd64/by-hash/SHA256/"+hex.EncodeToString(sum[:]))
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Equal(t, gz, byHash)

	require.Contains(t, b.mustCLI("pkg", "list", "--repo", "di", "--release", "stable"), "di-step")
	require.Contains(t, b.mustCLI("pkg", "show", "--repo", "di", "--release", "stable", "di-step"), "\nPackage-Type: udeb\n")

	b.mustCLI("pkg", "remove", "--repo", "di", "--release", "stable", "--key", key, "di-step=1.0:amd64")
	di, status, err = getPackages(ctx, dists+"main/debian-installer/binary-amd64/Packages")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Empty(t, string(di))
	regular, _, err = getPackages(ctx, dists+"main/binary-amd64/Packages")
	require.NoError(t, err)
	require.Contains(t, string(regular), "Package: hello\n")
}

// TestAttackSignerHiddenUdeb: a udeb the server slips into a round (its
// change hidden from the round's list, so the signer is not told, while
// the worker indexes it in debian-installer/) is refused: exit 1, nothing
// published.
func TestAttackSignerHiddenUdeb(t *testing.T) {
	t.Parallel()
	a := setupSignerAttack(t)
	ctx := context.Background()
	sum := a.upload(t, a.Token, debtest.Options{Package: "evil-step", Version: "6.6.6", Architecture: "amd64",
		Extra: []debtest.Field{{Name: "Package-Type", Value: "udeb"}}})
	a.slipHiddenChange(t, sum, "amd64", apt.UdebPoolPath("main", "evil-step", "evil-step", "6.6.6", "amd64"))
	errOut := a.refusedGood(t)
	require.Contains(t, errOut, "main/debian-installer/binary-amd64/Packages")
	gen, packages := a.published(t)
	require.Equal(t, int64(1), gen)
	require.NotContains(t, packages, "good")
	require.NotContains(t, packages, "evil-step")
	_, status, err := get(ctx, a.URL+"/apt/"+a.Tenant+"/atk/dists/stable/main/debian-installer/binary-amd64/Packages.gz")
	require.NoError(t, err)
	require.Equal(t, 404, status)
}

// TestUdebChanges: a .changes listing a udeb and a .deb publishes both in
// one change, each in its own index.
func TestUdebChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("dic", "stable")
	udeb := buildUdeb(t, b.dir, "net-step", "2.0")
	deb := writeDeb(t, b.dir, debtest.Options{Package: "net", Version: "2.0", Architecture: "amd64"})
	var files, sums strings.Builder
	for _, path := range []string{udeb, deb} {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		f := apt.DescribeFile(filepath.Base(path), data)
		fmt.Fprintf(&files, " %s %d misc optional %s\n", f.MD5, f.Size, f.Name)
		fmt.Fprintf(&sums, " %s %d %s\n", f.SHA256, f.Size, f.Name)
	}
	changes := filepath.Join(b.dir, "net_2.0_amd64.changes")
	require.NoError(t, os.WriteFile(changes, []byte("Format: 1.8\nSource: net\nBinary: net net-step\nArchitecture: amd64\n"+
		"Version: 2.0\nDistribution: stable\nChecksums-Sha256:\n"+sums.String()+"Files:\n"+files.String()), 0o644))
	out := b.mustCLI("pkg", "add", "--repo", "dic", "--release", "stable", "--key", key, changes)
	require.Contains(t, out, "published generation 1")

	ctx := context.Background()
	dists := b.URL + "/apt/" + b.Tenant + "/dic/dists/stable/"
	di, status, err := getPackages(ctx, dists+"main/debian-installer/binary-amd64/Packages")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Contains(t, string(di), "Package: net-step\n")
	require.NotContains(t, string(di), "Package: net\n")
	regular, _, err := getPackages(ctx, dists+"main/binary-amd64/Packages")
	require.NoError(t, err)
	require.Contains(t, string(regular), "Package: net\n")
	require.NotContains(t, string(regular), "net-step")
}
