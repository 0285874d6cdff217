package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
)

// publishedSources returns the public main/source/Sources.gz, decompressed
// ("" when the Release lists none).
func (a *signerAttack) publishedSources(t *testing.T) string {
	t.Helper()
	gz, status, err := get(context.Background(), a.URL+"/apt/"+a.Tenant+"/atk/dists/stable/main/source/Sources.gz")
	require.NoError(t, err)
	if status == 404 {
		return ""
	}
	require.Equal(t, 200, status)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	require.NoError(t, err)
	text, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(text)
}

// TestAttackSignerHiddenSource: a source the server slips into a round
// (its change hidden from the round's list, so the signer is not told,
// while the worker indexes it) is refused: exit 1, no Sources published.
func TestAttackSignerHiddenSource(t *testing.T) {
	t.Parallel()
	a := setupSignerAttack(t)
	ctx := context.Background()
	dir := filepath.Join(a.dir, "evil")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	debtest.BuildSource(t, dir, debtest.SourceOptions{Source: "evil", Upstream: "6.6.6"})
	// The server holds the source (uploaded, never submitted).
	c := client.New(a.URL, a.Token)
	var dscSum string
	for _, name := range []string{"evil_6.6.6.orig.tar.gz", "evil_6.6.6-1.debian.tar.xz", "evil_6.6.6-1.dsc"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		sum := apt.DescribeFile(name, data).SHA256
		if filepath.Ext(name) == ".dsc" {
			dscSum = sum
			_, err = c.UploadSource(ctx, sum, bytes.NewReader(data), int64(len(data)))
		} else {
			_, err = c.UploadFile(ctx, sum, bytes.NewReader(data), int64(len(data)))
		}
		require.NoError(t, err)
	}
	a.slipHiddenChange(t, dscSum, apt.ArchSource, apt.PoolPath("main", "evil", "evil", "6.6.6-1", apt.ArchSource))
	errOut := a.refusedGood(t)
	require.Contains(t, errOut, "main/source/Sources is not the previous generation's plus the round's source changes")
	require.NotContains(t, a.publishedSources(t), "Package: evil")
}

// TestAttackSignerAlteredSource: the server records the signer's own .dsc
// with another orig tarball in its stanza (as if it had swapped the
// upstream code); the signer, which computed the stanza from its .dsc,
// refuses the round: exit 1, generation 1 stays.
func TestAttackSignerAlteredSource(t *testing.T) {
	t.Parallel()
	a := setupSignerAttack(t)
	ctx := context.Background()
	dir := filepath.Join(a.dir, "src")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	dsc := debtest.BuildSource(t, dir, debtest.SourceOptions{Source: "hello", Upstream: "1.0"})
	orig, err := os.ReadFile(filepath.Join(dir, "hello_1.0.orig.tar.gz"))
	require.NoError(t, err)
	origSum := apt.DescribeFile("", orig).SHA256
	_, err = a.conn.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION swap_orig() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN NEW.control := replace(NEW.control, '%s', '%064d'); RETURN NEW; END $$;
		CREATE TRIGGER swap_orig BEFORE INSERT ON packages FOR EACH ROW
		WHEN (NEW.architecture = 'source') EXECUTE FUNCTION swap_orig();`, origSum, 0))
	require.NoError(t, err)

	out, errOut, code := a.cli(ctx, "pkg", "add", "--repo", "atk", "--release", "stable", "--key", a.key, dsc)
	require.Equal(t, 1, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, errOut, "refusing to sign round")
	require.Contains(t, errOut, "adds this CLI's source hello 1.0-1 with a Sources stanza that is not its .dsc's")
	gen, _ := a.published(t)
	require.Equal(t, int64(1), gen)
	require.Empty(t, a.publishedSources(t))
}
