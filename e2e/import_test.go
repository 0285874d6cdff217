package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportFromRealTools imports repositories published by the real
// aptly, reprepro and apt-ftparchive, served over HTTP: apt-get then sees
// every package of the source with the same SHA256, installs one, and a
// rerun downloads nothing and publishes nothing.
func TestImportFromRealTools(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		build func(*testing.T, *srcGPG) string
	}{
		{"aptly", aptlyRepo},
		{"reprepro", repreproRepo},
		{"apt-ftparchive", ftparchiveRepo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newSrcGPG(t)
			root := tc.build(t, g)
			src := serveSource(t, root)
			b := setup(t)
			keyFile := b.repoWithKey("r", "bookworm")
			ctx := context.Background()

			out, errOut, code := b.importInto(ctx, "r", keyFile, src.URL, "--keyring", g.pub)
			require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
			require.NotContains(t, errOut, "WARNING")
			require.Contains(t, errOut, "signed by "+g.fpr)
			repoURL := b.URL + "/apt/" + b.Tenant + "/r"
			for _, arch := range []string{"amd64", "arm64"} {
				want, err := os.ReadFile(filepath.Join(root, "dists/bookworm/main/binary-"+arch+"/Packages"))
				require.NoError(t, err)
				got, status, err := getPackages(ctx, repoURL+"/dists/bookworm/main/binary-"+arch+"/Packages")
				require.NoError(t, err)
				require.Equal(t, 200, status)
				require.NotEmpty(t, stanzaKeys(t, want))
				require.Equal(t, stanzaKeys(t, want), stanzaKeys(t, got), arch)
			}

			pub, err := os.ReadFile(pubKeyFile(keyFile))
			require.NoError(t, err)
			apt := newAptClient(t, repoURL, "bookworm", "main", string(pub))
			apt.run("update")
			require.Contains(t, apt.run("install", "-y", "--download-only", "hello-data"), "hello-data")

			pools := len(src.requested("/pool/"))
			out, errOut, code = b.importInto(ctx, "r", keyFile, src.URL, "--keyring", g.pub)
			require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
			require.Contains(t, out, "nothing to import")
			require.Len(t, src.requested("/pool/"), pools, "the rerun downloaded pool files")
		})
	}
}
