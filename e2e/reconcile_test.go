package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob/blobtest"
)

// TestReconcileCommand: an operator's `aptq release reconcile` puts back an
// InRelease that vanished from S3 and reports it.
func TestReconcileCommand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("rec", "stable")
	deb := writeDeb(t, b.dir, debtest.Options{Package: "rec", Version: "1.0", Architecture: "amd64"})
	b.mustCLI("pkg", "add", "--repo", "rec", "--release", "stable", "--key", key, deb)

	url := b.URL + "/apt/" + b.Tenant + "/rec/dists/stable/InRelease"
	before, status, err := get(context.Background(), url)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	s3, _ := blobtest.New(t)
	require.NoError(t, s3.Delete(context.Background(), b.Tenant+"/rec/dists/stable/InRelease"))
	_, status, err = get(context.Background(), url)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, status)

	out := b.mustCLI("release", "reconcile", "--repo", "rec", "--release", "stable")
	require.Contains(t, out, "generation 1: repaired 1 objects")
	require.Contains(t, out, "dists/stable/InRelease: missing")
	after, status, err := get(context.Background(), url)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, before, after)
}
