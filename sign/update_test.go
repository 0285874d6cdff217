package sign

import (
	"io"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/require"
)

// revoke returns the public half of s's key carrying a revocation, as gpg
// --export gives it once the revocation certificate is imported. It leaves
// s unrevoked, so that s still signs, as a stolen key would.
func revoke(t *testing.T, s *Signer, reason packet.ReasonForRevocation) []byte {
	t.Helper()
	e, err := readEntity(mustArmorPrivate(t, s))
	require.NoError(t, err)
	require.NoError(t, e.RevokeKey(reason, "test", nil))
	pub, err := armorBlock(publicKeyBlock, e.Serialize)
	require.NoError(t, err)
	return pub
}

func mustArmorPrivate(t *testing.T, s *Signer) []byte {
	t.Helper()
	b, err := armorBlock(privateKeyBlock, func(w io.Writer) error {
		return s.entity.SerializePrivateWithoutSigning(w, nil)
	})
	require.NoError(t, err)
	return b
}

// TestKeyUpdateRevocation: a registered key re-added with its revocation
// replaces the stored copy, and signatures by it are refused from then on
// (ErrRevokedKey), including ones made before the revocation was known.
// Re-adding the old export cannot undo the revocation.
func TestKeyUpdateRevocation(t *testing.T) {
	t.Parallel()
	signer, pub := newKey(t, "Rev")
	inRelease, releaseGPG, err := Sign([]byte(testRelease), signer)
	require.NoError(t, err)
	_, err = Verify([]byte(testRelease), inRelease, releaseGPG, [][]byte{pub})
	require.NoError(t, err, "before the revocation the key signs")

	revokedPub := revoke(t, signer, packet.KeyCompromised)
	_, err = ParsePublicKey(revokedPub)
	require.ErrorIs(t, err, ErrInvalidKey, "a revoked key is not registered anew")

	upd, err := ParseKeyUpdate(pub, revokedPub)
	require.NoError(t, err)
	require.True(t, upd.Revoked)
	require.Equal(t, signer.Fingerprint(), upd.Fingerprint)
	_, err = Verify([]byte(testRelease), inRelease, releaseGPG, [][]byte{upd.Armored})
	require.ErrorIs(t, err, ErrRevokedKey)

	again, err := ParseKeyUpdate(upd.Armored, pub)
	require.NoError(t, err)
	require.True(t, again.Revoked, "re-adding the export from before the revocation keeps it revoked")
	_, err = Verify([]byte(testRelease), inRelease, releaseGPG, [][]byte{again.Armored})
	require.ErrorIs(t, err, ErrRevokedKey)

	same, err := ParseKeyUpdate(upd.Armored, upd.Armored)
	require.NoError(t, err)
	require.Equal(t, upd.Armored, same.Armored, "re-adding the same copy changes nothing")

	other, otherPub := newKey(t, "Other")
	_, err = ParseKeyUpdate(pub, otherPub)
	require.ErrorIs(t, err, ErrInvalidKey, "an update is the same primary key")
	_, err = ParseKeyUpdate(pub, mustArmorPrivate(t, other))
	require.ErrorIs(t, err, ErrPrivateKey)
}

// TestKeyUpdateExpiry: an update that extends the expiry is taken.
func TestKeyUpdateExpiry(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-48 * time.Hour)
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return past }, KeyLifetimeSecs: 3600}
	signer, expiredPub := entityKey(t, cfg)
	_, err := ParsePublicKey(expiredPub)
	require.ErrorIs(t, err, ErrExpiredKey)

	e, err := readEntity(mustArmorPrivate(t, signer))
	require.NoError(t, err)
	id := e.PrimaryIdentity()
	id.SelfSignature.KeyLifetimeSecs = nil
	require.NoError(t, id.SelfSignature.SignUserId(id.UserId.Id, e.PrimaryKey, e.PrivateKey, nil))
	extended, err := armorBlock(publicKeyBlock, e.Serialize)
	require.NoError(t, err)

	upd, err := ParseKeyUpdate(expiredPub, extended)
	require.NoError(t, err)
	require.False(t, upd.Revoked)
	_, err = ParsePublicKey(upd.Armored)
	require.NoError(t, err, "the stored copy no longer expires")
}
