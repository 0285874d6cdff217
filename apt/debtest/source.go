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
