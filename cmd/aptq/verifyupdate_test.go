package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/client"
)

// TestVerifyUpdate: the round view's valid_for and keep_versions reach the
// signer's check as values (none: no Valid-Until; 0: keep all), and one it
// cannot read refuses the round rather than skipping the check.
func TestVerifyUpdate(t *testing.T) {
	t.Parallel()
	zero, two, negative := 0, 2, -1
	u, err := verifyUpdate(&client.RoundUpdate{ValidFor: "168h0m0s", KeepVersions: &two})
	require.NoError(t, err)
	require.Equal(t, 7*24*time.Hour, *u.ValidFor)
	require.Equal(t, 2, *u.KeepVersions)
	require.Equal(t, []string{"valid for 168h0m0s", "keep the newest 2 versions (retention)"},
		describeUpdate(&client.RoundUpdate{ValidFor: "168h0m0s", KeepVersions: &two}))

	u, err = verifyUpdate(&client.RoundUpdate{ValidFor: "none", KeepVersions: &zero})
	require.NoError(t, err)
	require.Zero(t, *u.ValidFor)
	require.Zero(t, *u.KeepVersions)
	require.Equal(t, []string{"valid for none", "keep all versions (no retention)"},
		describeUpdate(&client.RoundUpdate{ValidFor: "none", KeepVersions: &zero}))

	u, err = verifyUpdate(&client.RoundUpdate{Fields: map[string]string{"Label": "x"}})
	require.NoError(t, err)
	require.Nil(t, u.ValidFor, "unchanged")
	require.Nil(t, u.KeepVersions, "unchanged")

	for _, bad := range []client.RoundUpdate{{ValidFor: "7d"}, {ValidFor: "-1h"}, {ValidFor: "0s"}, {KeepVersions: &negative}} {
		_, err := verifyUpdate(&bad)
		require.Error(t, err, "%+v", bad)
	}
}
