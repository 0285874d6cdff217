package sign

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVerifyClearsigned: the signer's own key verifies an InRelease and
// gives back the exact Release text; another key gets ErrUnknownKey, and a
// changed text ErrBadSignature.
func TestVerifyClearsigned(t *testing.T) {
	t.Parallel()
	priv, pub, err := GenerateKey("a", "a@example.com")
	require.NoError(t, err)
	s, err := ParsePrivateKey(priv, nil)
	require.NoError(t, err)
	_, other, err := GenerateKey("b", "b@example.com")
	require.NoError(t, err)
	release := []byte("Origin: o\nSuite: stable\nSHA256:\n 00 1 main/binary-amd64/Packages\n")
	inRelease, _, err := Sign(release, s)
	require.NoError(t, err)

	text, signers, err := VerifyClearsigned(inRelease, [][]byte{pub})
	require.NoError(t, err)
	require.Equal(t, release, text)
	require.Equal(t, []string{s.Fingerprint()}, signers)

	_, _, err = VerifyClearsigned(inRelease, [][]byte{other})
	require.ErrorIs(t, err, ErrUnknownKey)
	tampered := []byte(string(inRelease[:60]) + "X" + string(inRelease[61:]))
	_, _, err = VerifyClearsigned(tampered, [][]byte{pub})
	require.ErrorIs(t, err, ErrBadSignature)
}
