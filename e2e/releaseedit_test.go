package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// releaseJSON reads a release through the CLI.
func (b *bundle) releaseJSON(repo, release string) map[string]any {
	b.t.Helper()
	var out map[string]any
	require.NoError(b.t, json.Unmarshal([]byte(b.mustCLI("--json", "release", "show", "--repo", repo, "--release", release)), &out))
	return out
}

// listsFile returns the content of the one file of apt's lists whose name
// ends in suffix.
func listsFile(t *testing.T, a *aptClient, suffix string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(a.Dir, "lists", "*"+suffix))
	require.NoError(t, err)
	require.Len(t, matches, 1, "lists files *%s", suffix)
	data, err := os.ReadFile(matches[0])
	require.NoError(t, err)
	return string(data)
}

// TestReleaseUpdateE2E: an update published through a signed round shows
// in apt-get update (new Label and Origin; a new architecture whose
// Packages is empty); an update that changes nothing says so and exits 0;
// removing a component that holds a package is refused with 409 and
// changes nothing; so is a Release field with a newline.
func TestReleaseUpdateE2E(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("upd")
	b.mustCLI("release", "create", "--repo", "upd", "--release", "stable", "--architectures", "amd64", "--components", "main,contrib")
	dir := t.TempDir()
	b.mustCLI("pkg", "add", "--repo", "upd", "--release", "stable", "--key", key,
		writeDeb(t, dir, debtest.Options{Package: "one", Version: "1.0", Architecture: "amd64"}))
	b.mustCLI("pkg", "add", "--repo", "upd", "--release", "stable", "--component", "contrib", "--key", key,
		writeDeb(t, dir, debtest.Options{Package: "extra", Version: "1.0", Architecture: "amd64"}))
	pub, err := os.ReadFile(pubKeyFile(key))
	require.NoError(t, err)
	url := b.URL + "/apt/" + b.Tenant + "/upd"
	apt := newAptClient(t, url, "stable", "main", string(pub))
	apt.run("update")
	require.Contains(t, listsFile(t, apt, "_InRelease"), "Label: upd\n")

	out := b.mustCLI("release", "update", "--repo", "upd", "--release", "stable", "--key", key,
		"--label", "Updated Label", "--origin", "Acme", "--add-architectures", "arm64")
	require.Contains(t, out, "published generation 3")
	// apt sees the new Label and Origin, and asks its user to accept them.
	out, err = apt.Run(context.Background(), "-o", "APT::Architectures=amd64,arm64", "update")
	require.Error(t, err)
	require.Contains(t, out, "changed its 'Label' value from 'upd' to 'Updated Label'")
	require.Contains(t, out, "changed its 'Origin' value from 'upd' to 'Acme'")
	require.NotContains(t, out, "Hash Sum mismatch")
	apt.run("-o", "APT::Architectures=amd64,arm64", "update", "--allow-releaseinfo-change")
	inRelease := listsFile(t, apt, "_InRelease")
	require.Contains(t, inRelease, "Label: Updated Label\n")
	require.Contains(t, inRelease, "Origin: Acme\n")
	require.Contains(t, inRelease, "Architectures: amd64 arm64\n")
	require.Empty(t, gunzipURL(t, url+"/dists/stable/main/binary-arm64/Packages.gz"), "the new index is empty")
	apt.run("install", "-y", "--download-only", "one")

	out = b.mustCLI("release", "update", "--repo", "upd", "--release", "stable", "--key", key, "--label", "Updated Label")
	require.Contains(t, out, "nothing to change")
	require.Contains(t, b.mustCLI("job", "list", "--repo", "upd"), "update")

	before := b.releaseJSON("upd", "stable")
	_, errOut, code := b.cli(context.Background(), "release", "update", "--repo", "upd", "--release", "stable", "--key", key,
		"--remove-components", "contrib")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "component contrib holds 1 packages")
	require.Contains(t, errOut, "extra_1.0_amd64")
	_, errOut, code = b.cli(context.Background(), "release", "update", "--repo", "upd", "--release", "stable", "--key", key,
		"--label", "x\nSHA256:\n "+strings.Repeat("0", 64)+" 1 main/evil")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "one line of printable UTF-8")
	require.Equal(t, before, b.releaseJSON("upd", "stable"), "nothing changed")
	apt.run("-o", "APT::Architectures=amd64,arm64", "update")
}

// gunzipURL reads a .gz over HTTP, decompressed.
func gunzipURL(t *testing.T, url string) string {
	t.Helper()
	body, status, err := get(context.Background(), url)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, url)
	r, err := gzip.NewReader(bytes.NewReader(body))
	require.NoError(t, err)
	plain, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(plain)
}

// TestReleaseOptionsPinning: apt pins a NotAutomatic release at 1 and,
// with ButAutomaticUpgrades, at 100, as apt-cache policy shows.
func TestReleaseOptionsPinning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("pin")
	b.mustCLI("release", "create", "--repo", "pin", "--release", "backports", "--not-automatic",
		"--signed-by", "0123456789abcdef0123456789abcdef01234567")
	b.mustCLI("pkg", "add", "--repo", "pin", "--release", "backports", "--key", key,
		writeDeb(t, t.TempDir(), debtest.Options{Package: "onlybp", Version: "1.0", Architecture: "amd64"}))
	pub, err := os.ReadFile(pubKeyFile(key))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/pin", "backports", "main", string(pub))
	priority := regexp.MustCompile(`(?m)^\s+(\d+) http`)
	policy := func() string {
		// Each change of pin asks the user to accept it (apt >= 1.5).
		apt.run("update", "--allow-releaseinfo-change")
		out, err := apt.Cache(context.Background(), "policy", "onlybp")
		require.NoError(t, err)
		m := priority.FindStringSubmatch(out)
		require.NotNil(t, m, out)
		return m[1]
	}
	require.Equal(t, "1", policy())
	inRelease := listsFile(t, apt, "_InRelease")
	require.Contains(t, inRelease, "NotAutomatic: yes\n")
	require.Contains(t, inRelease, "Signed-By: 0123456789ABCDEF0123456789ABCDEF01234567\n")

	b.mustCLI("release", "update", "--repo", "pin", "--release", "backports", "--key", key, "--but-automatic-upgrades")
	require.Equal(t, "100", policy())
	require.Contains(t, listsFile(t, apt, "_InRelease"), "ButAutomaticUpgrades: yes\n")
}

// TestReleaseUpdateKeepVersionsE2E: a release holding 4 versions of a
// package (string order not dpkg's) gets "release update --keep-versions
// 2": the update's own round removes the 2 oldest by dpkg order, the
// signer is shown the update and the removals and checks them, and apt-get
// sees exactly the 2 newest.
func TestReleaseUpdateKeepVersionsE2E(t *testing.T) {
	t.Parallel()
	e := newPromoteEnv(t, "kupd")
	// dpkg order: 1.2 < 1.9 < 1.10 < 1:0.1 (string order: 1.10 < 1.2 < 1.9 < 1:0.1).
	var debs []string
	for _, v := range []string{"1.9", "1.10", "1.2", "1:0.1"} {
		debs = append(debs, e.deb("tool", v, "amd64"))
	}
	e.publish("stable", debs...)
	a := e.apt("stable")
	require.Equal(t, []string{"1.10", "1.2", "1.9", "1:0.1"}, a.versions("tool"))

	_, errOut, code := e.cli(context.Background(), "release", "update", "--repo", e.repo, "--release", "stable",
		"--key", e.key, "--keep-versions", "2")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "keep the newest 2 versions (retention)")
	require.Contains(t, errOut, "- tool 1.9 amd64 from main (retention)")
	require.Contains(t, errOut, "- tool 1.2 amd64 from main (retention)")
	require.Contains(t, errOut, "plus exactly these changes")
	require.Equal(t, float64(2), e.releaseJSON(e.repo, "stable")["keep_versions"])

	// A fresh apt: one that read InRelease in the second the update
	// replaced it would be told 304 (If-Modified-Since has 1 s resolution).
	a = e.apt("stable")
	require.Equal(t, []string{"1.10", "1:0.1"}, a.versions("tool"))
	require.Contains(t, listsFile(t, a, "_InRelease"), "Aptq-Keep-Versions: 2\n")
	require.True(t, a.sees("tool", "1.10"))
	require.False(t, a.sees("tool", "1.9"))
}
