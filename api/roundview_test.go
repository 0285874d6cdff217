package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/store"
)

// TestGetRound: a signer sees the round's exact Release bytes and every
// change with its submitter and the uploaded control paragraph.
func TestGetRound(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	ctx := context.Background()
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases", map[string]any{"name": "stable"}, nil))
	deb := debtest.Build(t, debtest.Options{Package: "hello", Version: "1.0", Architecture: "amd64"})
	sum := sha256Hex(deb)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sum, deb, nil))
	var ref map[string]int64
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/r/releases/stable/changes",
		map[string]any{"adds": []map[string]string{{"sha256": sum, "component": "main"}},
			"removes": []map[string]string{{"name": "old", "version": "0.1", "architecture": "amd64", "component": "main"}}}, &ref))
	repo, err := b.store.Repository(ctx, b.tenant.ID, "r")
	require.NoError(t, err)
	release, err := b.store.Release(ctx, repo.ID, "stable")
	require.NoError(t, err)
	lease, ok, err := b.store.AcquireLease(ctx, release.ID, "w", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	round, err := b.store.CutRound(ctx, store.Cut{Lease: lease, Generation: 1, ReleaseDate: time.Now().UTC().Truncate(time.Second),
		ReleaseBytes: []byte("Origin: r\n"), Files: []store.IndexFile{}, ChangeIDs: []int64{ref["change_id"]},
		SignatureTimeout: time.Minute})
	require.NoError(t, err)

	var v RoundView
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, fmt.Sprintf("/v1/rounds/%d", round.ID), nil, &v))
	require.Equal(t, round.ID, v.ID)
	require.Equal(t, int64(1), v.Generation)
	require.Equal(t, int64(0), v.PreviousGeneration)
	require.Empty(t, v.PreviousInRelease)
	require.Equal(t, "Origin: r\n", v.ReleaseBytes)
	require.Equal(t, "stable", v.Release)
	require.Contains(t, v.URL, "/apt/")
	require.Len(t, v.Changes, 1)
	ch := v.Changes[0]
	require.Equal(t, ref["change_id"], ch.ID)
	require.Equal(t, ref["job_id"], ch.JobID)
	require.NotNil(t, ch.TokenID)
	require.NotEmpty(t, ch.TokenName)
	require.Len(t, ch.Adds, 1)
	require.Equal(t, sum, ch.Adds[0].SHA256)
	require.Equal(t, "hello", ch.Adds[0].Name)
	require.Equal(t, "main", ch.Adds[0].Component)
	require.Equal(t, int64(len(deb)), ch.Adds[0].Size)
	require.Contains(t, ch.Adds[0].Control, "Package: hello\n")
	require.Contains(t, ch.Adds[0].Filename, "pool/main/")
	require.Equal(t, []RoundRemoveView{{Name: "old", Version: "0.1", Architecture: "amd64", Component: "main"}}, ch.Removes)

	b.expectError(http.MethodGet, "/v1/rounds/x", nil, 400, "bad_request")
	b.expectError(http.MethodGet, "/v1/rounds/999999", nil, 404, "not_found")
}
