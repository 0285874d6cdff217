package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/client"
)

func TestPkgList(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	res := runCLI(t, b.env, "pkg", "list", "--repo", "acme", "--release", "stable")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Regexp(t, `(?m)^NAME\s+VERSION\s+ARCH\s+COMPONENT\s+SIZE\s+SHA256$`, res.stdout)
	require.Regexp(t, `(?m)^hello\s+2\.0\s+amd64\s+main\s+2\.3 KiB\s+bb22$`, res.stdout)
	require.Regexp(t, `(?m)^world\s+1\.0\s+all\s+contrib\s+99 B\s+cc33$`, res.stdout)

	res = runCLI(t, b.env, "pkg", "list", "--repo", "acme", "--release", "stable", "--component", "main",
		"--name", "hello", "--arch", "amd64", "--json")
	require.Equal(t, exitOK, res.code, res.stderr)
	var out struct {
		Packages []client.ReleasePackage `json:"packages"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	require.Equal(t, fakeMembers[:2], out.Packages)

	res = runCLI(t, b.env, "pkg", "list", "--repo", "acme", "--release", "stable", "--name", "nothing", "--json")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `{"packages":[]}`, res.stdout)
}

func TestPkgShow(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	res := runCLI(t, b.env, "pkg", "show", "--repo", "acme", "--release", "stable", "hello")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, `Package: hello
Version: 1.0
Architecture: amd64
Filename: pool/main/h/hello/hello_1.0_amd64.deb
Size: 1234
SHA256: aa11

Package: hello
Version: 2.0
Architecture: amd64
Filename: pool/main/h/hello/hello_2.0_amd64.deb
Size: 2345
SHA256: bb22
`, res.stdout)

	res = runCLI(t, b.env, "pkg", "show", "--repo", "acme", "--release", "stable", "--version", "2.0", "hello", "--json")
	require.Equal(t, exitOK, res.code, res.stderr)
	var out struct {
		Packages []client.ReleasePackage `json:"packages"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	require.Equal(t, fakeMembers[1:2], out.Packages)

	res = runCLI(t, b.env, "pkg", "show", "--repo", "acme", "--release", "stable", "--version", "3.0", "hello")
	require.Equal(t, exitFailed, res.code)
	require.Contains(t, res.stderr, "aptq: not_found: no package hello=3.0 in acme/stable")
}

func TestStanzaKeepsIndexFields(t *testing.T) {
	t.Parallel()
	p := client.ReleasePackage{Name: "a", Filename: "pool/a.deb", Size: 3, SHA256: "ff",
		Control: "Package: a\nFilename: pool/a.deb\nSize: 3\n\n"}
	require.Equal(t, "Package: a\nFilename: pool/a.deb\nSize: 3\nSHA256: ff\n", stanza(p))
}

func TestStanzaOfSource(t *testing.T) {
	t.Parallel()
	p := client.ReleasePackage{Name: "hello", Version: "1.0-1", Architecture: "source", Filename: "pool/main/h/hello/hello_1.0-1.dsc",
		Size: 683, SHA256: "36bc", Control: "Package: hello\nVersion: 1.0-1\nFiles:\n 1234 683 hello_1.0-1.dsc\n"}
	require.Equal(t, "Package: hello\nVersion: 1.0-1\nFiles:\n 1234 683 hello_1.0-1.dsc\nDirectory: pool/main/h/hello\n", stanza(p))
}
