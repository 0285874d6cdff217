package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/sign"
)

// TestRevokedKeySignatureRefused: once a key's revocation is registered
// (key add of the revoked key), the server refuses a round's signature by
// it, whatever a client checked before, and the round still awaits one.
func TestRevokedKeySignatureRefused(t *testing.T) {
	t.Parallel()
	f := newScopeFixture(t)
	var k KeyResponse
	require.Equal(t, http.StatusOK, f.do(http.MethodPost, "/v1/repos/mine/keys",
		map[string]string{"armored": string(revokedKey(t, f.priv))}, &k))
	require.True(t, k.Revoked)

	in, gpg, err := sign.Sign(f.round.ReleaseBytes, f.signer)
	require.NoError(t, err)
	f.expectError(http.MethodPost, fmt.Sprintf("/v1/rounds/%d/signature", f.round.ID),
		map[string]any{"generation": f.round.Generation, "inrelease": string(in), "release_gpg": string(gpg)},
		http.StatusUnprocessableEntity, "revoked_key")
	var state string
	require.NoError(t, f.store.Pool.QueryRow(context.Background(), `SELECT state FROM rounds WHERE id = $1`, f.round.ID).Scan(&state))
	require.Equal(t, "awaiting_signature", state)
}
