package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
)

// TestGetRoundUpdate: a round of release updates lists, for each, the
// Release fields it sets (as apt.BuildRelease writes them, "" dropping
// one) and the components and architectures it adds and removes; a
// change of packages has none. keep_versions 0 shows as 0 (keep all), not as
// absent.
func TestGetRoundUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	ctx := context.Background()
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "stable", "not_automatic": true, "description": "old"}, nil))
	var first, second, resign ReleaseUpdateResponse
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPatch, "/v1/repos/r/releases/stable", map[string]any{
		"label": "New", "not_automatic": false, "description": "", "add_architectures": []string{"arm64"},
		"compressions": []string{"xz"}, "valid_for": "2d", "keep_versions": 2}, &first))
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPatch, "/v1/repos/r/releases/stable", map[string]any{
		"remove_architectures": []string{"amd64"}, "valid_for": "none", "keep_versions": 0}, &second))
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/r/releases/stable/resign", nil, &resign))
	repo, err := b.store.Repository(ctx, b.tenant.ID, "r")
	require.NoError(t, err)
	release, err := b.store.Release(ctx, repo.ID, "stable")
	require.NoError(t, err)
	lease, ok, err := b.store.AcquireLease(ctx, release.ID, "w", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	round, err := b.store.CutRound(ctx, store.Cut{Lease: lease, Generation: 1, ReleaseDate: time.Now().UTC().Truncate(time.Second),
		ReleaseBytes: []byte("Origin: r\n"), Files: []store.IndexFile{},
		ChangeIDs: []int64{first.ChangeID, second.ChangeID, resign.ChangeID}, SignatureTimeout: time.Minute})
	require.NoError(t, err)

	var v RoundView
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, fmt.Sprintf("/v1/rounds/%d", round.ID), nil, &v))
	require.Len(t, v.Changes, 3)
	two, zero := 2, 0
	require.Equal(t, &RoundUpdateView{Fields: map[string]string{"Label": "New", "NotAutomatic": "", "Description": ""},
		AddArchitectures: []string{"arm64"}, Compressions: []string{"xz"}, ValidFor: "48h0m0s", KeepVersions: &two}, v.Changes[0].Update)
	require.Equal(t, &RoundUpdateView{Fields: map[string]string{}, RemoveArchitectures: []string{"amd64"}, ValidFor: "none",
		KeepVersions: &zero}, v.Changes[1].Update, "keep_versions 0 is shown: it drops the retention")
	require.Nil(t, v.Changes[2].Update)
}
