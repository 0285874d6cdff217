package debtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SourceOptions describe a small source package built by dpkg-source.
type SourceOptions struct {
	Source string // default "hello"
	// Upstream is the upstream version; Revision the Debian revision
	// (default "1"). Two packages with the same Upstream share the orig
	// tarball, byte for byte: BuildSource makes it deterministically.
	Upstream, Revision string
	BuildDepends       string // e.g. "debhelper-compat (= 13)"
	// Binary is the binary package the source builds (default Source).
	Binary string
}

// BuildSource builds a "3.0 (quilt)" source package with dpkg-source -b in
// dir and returns the path of its .dsc; the orig tarball and the debian
// tarball lie beside it. It skips the test when dpkg-source is missing.
func BuildSource(tb testing.TB, dir string, o SourceOptions) string {
	tb.Helper()
	if _, err := exec.LookPath("dpkg-source"); err != nil {
		tb.Skip("dpkg-source not installed (dpkg-dev)")
	}
	if o.Source == "" {
		o.Source = "hello"
	}
	if o.Upstream == "" {
		o.Upstream = "1.0"
	}
	if o.Revision == "" {
		o.Revision = "1"
	}
	if o.Binary == "" {
		o.Binary = o.Source
	}
	version := o.Upstream + "-" + o.Revision
	tree := filepath.Join(dir, o.Source+"-"+o.Upstream)
	orig := filepath.Join(dir, o.Source+"_"+o.Upstream+".orig.tar.gz")
	if _, err := os.Stat(orig); os.IsNotExist(err) {
		writeFiles(tb, tree, map[string]string{"README": "upstream " + o.Source + " " + o.Upstream + "\n"})
		// Fixed mtime, owner and gzip header: the same upstream version
		// gives the same tarball.
		runIn(tb, dir, nil, "tar", "--sort=name", "--mtime=2020-01-01 00:00Z", "--owner=0", "--group=0",
			"--numeric-owner", "-cf", orig[:len(orig)-3], filepath.Base(tree))
		runIn(tb, dir, nil, "gzip", "-n", orig[:len(orig)-3])
	} else {
		runIn(tb, dir, nil, "tar", "-xzf", orig)
	}
	bd := ""
	if o.BuildDepends != "" {
		bd = "Build-Depends: " + o.BuildDepends + "\n"
	}
	writeFiles(tb, filepath.Join(tree, "debian"), map[string]string{
		"source/format": "3.0 (quilt)\n",
		"control": "Source: " + o.Source + "\nSection: misc\nPriority: optional\nMaintainer: Test <test@example.org>\n" +
			bd + "Standards-Version: 4.6.2\n\nPackage: " + o.Binary + "\nArchitecture: all\nDescription: test package\n test\n",
		"changelog": o.Source + " (" + version + ") unstable; urgency=medium\n\n  * Test.\n\n" +
			" -- Test <test@example.org>  Wed, 01 Jan 2020 00:00:00 +0000\n",
		"rules": "#!/usr/bin/make -f\n%:\n\tdh $@\n",
	})
	runIn(tb, dir, []string{"SOURCE_DATE_EPOCH=1577836800"}, "dpkg-source", "-b", filepath.Base(tree))
	if err := os.RemoveAll(tree); err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(dir, o.Source+"_"+version+".dsc")
}

func writeFiles(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func runIn(tb testing.TB, dir string, env []string, name string, args ...string) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// BuildChanges builds the source package of o (BuildSource) and its one
// binary package (Architecture: all), then a .changes for both with
// dpkg-genbuildinfo and dpkg-genchanges -sa, as a maintainer's upload is
// made; it returns the path of the .changes, beside every file it lists.
func BuildChanges(tb testing.TB, dir string, o SourceOptions) string {
	tb.Helper()
	dsc := BuildSource(tb, dir, o)
	if o.Source == "" {
		o.Source = "hello"
	}
	if o.Revision == "" {
		o.Revision = "1"
	}
	if o.Binary == "" {
		o.Binary = o.Source
	}
	version := o.Upstream + "-" + o.Revision
	tree := filepath.Join(dir, "tree-"+version)
	runIn(tb, dir, nil, "dpkg-source", "-x", dsc, tree)
	deb := o.Binary + "_" + version + "_all.deb"
	writeFiles(tb, filepath.Join(tree, "debian", o.Binary, "DEBIAN"), map[string]string{"control": "Package: " + o.Binary +
		"\nVersion: " + version + "\nArchitecture: all\nMaintainer: Test <test@example.org>\nDescription: test package\n test\n"})
	runIn(tb, dir, nil, "dpkg-deb", "--root-owner-group", "-b", filepath.Join(tree, "debian", o.Binary), filepath.Join(dir, deb))
	writeFiles(tb, filepath.Join(tree, "debian"), map[string]string{"files": deb + " misc optional\n"})
	env := []string{"SOURCE_DATE_EPOCH=1577836800"}
	runIn(tb, tree, env, "dpkg-genbuildinfo", "-O../"+o.Source+"_"+version+"_amd64.buildinfo")
	changes := filepath.Join(dir, o.Source+"_"+version+"_amd64.changes")
	runIn(tb, tree, env, "dpkg-genchanges", "-sa", "-O"+changes)
	if err := os.RemoveAll(tree); err != nil {
		tb.Fatal(err)
	}
	return changes
}
