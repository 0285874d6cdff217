package sign

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzVerify feeds arbitrary InRelease and Release.gpg bytes to Verify: it must
// never panic, must fail only with the package's sentinels (the API maps each
// to a 422 code, anything else would be a 500), and may succeed only for the
// registered key. The seed corpus in testdata/fuzz/FuzzVerify holds valid pairs
// made by Sign and by gpg for testdata/fuzz-key.asc over testdata/fuzz-release,
// plus broken ones. The key's private half was discarded after making them; to
// refresh the seeds, make a new key and replace the key and the pairs together.
func FuzzVerify(f *testing.F) {
	pub, err := os.ReadFile("testdata/fuzz-key.asc")
	require.NoError(f, err)
	release, err := os.ReadFile("testdata/fuzz-release")
	require.NoError(f, err)
	key, err := ParsePublicKey(pub)
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, inRelease, releaseGPG []byte) {
		t.Parallel()
		signers, err := Verify(release, inRelease, releaseGPG, [][]byte{pub})
		if err == nil {
			require.Equal(t, []string{key.Fingerprint}, signers)
			return
		}
		require.Nil(t, signers)
		known := false
		for _, sentinel := range []error{ErrBadSignature, ErrUnknownKey, ErrContentMismatch, ErrExpiredKey} {
			known = known || errors.Is(err, sentinel)
		}
		require.True(t, known, "unexpected error: %v", err)
	})
}
