package sign

import (
	"bytes"
	"crypto"
	"io"
	"regexp"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/require"
)

// newKey generates a key pair and returns its parsed signer and armored public key.
func newKey(t testing.TB, name string) (*Signer, []byte) {
	t.Helper()
	priv, pub, err := GenerateKey(name, name+"@example.com")
	require.NoError(t, err)
	s, err := ParsePrivateKey(priv, nil)
	require.NoError(t, err)
	return s, pub
}

// entityKey builds a key from cfg (whose Time may lie in the past) and returns
// it as a signer and an armored public key, so tests can make expired keys.
func entityKey(t testing.TB, cfg *packet.Config) (*Signer, []byte) {
	t.Helper()
	e, err := openpgp.NewEntity("Old", "", "old@example.com", cfg)
	require.NoError(t, err)
	pub, err := armorBlock(publicKeyBlock, e.Serialize)
	require.NoError(t, err)
	return &Signer{entity: e}, pub
}

// encryptedKey returns an armored private key protected by passphrase.
func encryptedKey(t testing.TB, passphrase []byte) []byte {
	t.Helper()
	priv, _, err := GenerateKey("Enc", "enc@example.com")
	require.NoError(t, err)
	e, err := readEntity(priv)
	require.NoError(t, err)
	require.NoError(t, e.EncryptPrivateKeys(passphrase, nil))
	out, err := armorBlock(privateKeyBlock, func(w io.Writer) error { return e.SerializePrivateWithoutSigning(w, nil) })
	require.NoError(t, err)
	return out
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	priv, pub, err := GenerateKey("Repo Signing", "repo@example.com")
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(priv, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n")))
	require.True(t, bytes.HasPrefix(pub, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")))

	s, err := ParsePrivateKey(priv, nil)
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^[0-9A-F]{40}$`), s.Fingerprint())
	require.Equal(t, packet.PubKeyAlgoEdDSA, s.entity.PrimaryKey.PubKeyAlgo)
	require.Equal(t, 4, s.entity.PrimaryKey.Version)
	require.Empty(t, s.entity.Subkeys, "a signing-only key needs no subkeys")

	pk, err := ParsePublicKey(pub)
	require.NoError(t, err)
	require.Equal(t, s.Fingerprint(), pk.Fingerprint)
	require.Equal(t, []string{"Repo Signing <repo@example.com>"}, pk.UserIDs)
	require.WithinDuration(t, time.Now(), pk.Created, time.Minute)

	exported, err := s.PublicArmored()
	require.NoError(t, err)
	again, err := ParsePublicKey(exported)
	require.NoError(t, err)
	require.Equal(t, pk, again)
}

func TestParsePrivateKey(t *testing.T) {
	t.Parallel()
	plain, pub, err := GenerateKey("Plain", "plain@example.com")
	require.NoError(t, err)
	encrypted := encryptedKey(t, []byte("correct horse"))
	expired, _ := entityKey(t, &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 3600,
		Time: func() time.Time { return time.Now().Add(-2 * time.Hour) },
	})
	expiredArmored, err := armorBlock(privateKeyBlock, func(w io.Writer) error {
		return expired.entity.SerializePrivateWithoutSigning(w, nil)
	})
	require.NoError(t, err)

	tests := []struct {
		name       string
		key        []byte
		passphrase string
		wantErr    error
	}{
		{name: "plain", key: plain},
		{name: "plain ignores passphrase", key: plain, passphrase: "unused"},
		{name: "encrypted with passphrase", key: encrypted, passphrase: "correct horse"},
		{name: "encrypted without passphrase", key: encrypted, wantErr: ErrPassphrase},
		{name: "encrypted with wrong passphrase", key: encrypted, passphrase: "wrong", wantErr: ErrPassphrase},
		{name: "public key", key: pub, wantErr: ErrInvalidKey},
		{name: "expired", key: expiredArmored, wantErr: ErrExpiredKey},
		{name: "garbage", key: []byte("not a key"), wantErr: ErrInvalidKey},
		{name: "empty", key: nil, wantErr: ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := ParsePrivateKey(tt.key, []byte(tt.passphrase))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			inRelease, releaseGPG, err := Sign([]byte("Origin: test\n"), s)
			require.NoError(t, err)
			pub, err := s.PublicArmored()
			require.NoError(t, err)
			_, err = Verify([]byte("Origin: test\n"), inRelease, releaseGPG, [][]byte{pub})
			require.NoError(t, err)
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	priv, pub, err := GenerateKey("Pub", "pub@example.com")
	require.NoError(t, err)
	_, other, err := GenerateKey("Other", "other@example.com")
	require.NoError(t, err)
	bin, err := Dearmor(pub)
	require.NoError(t, err)
	otherBin, err := Dearmor(other)
	require.NoError(t, err)
	privEntity, err := readEntity(priv)
	require.NoError(t, err)
	var privBin bytes.Buffer
	require.NoError(t, privEntity.SerializePrivateWithoutSigning(&privBin, nil))
	_, expired := entityKey(t, &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 3600,
		Time: func() time.Time { return time.Now().Add(-2 * time.Hour) },
	})
	_, rsa := entityKey(t, &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048, DefaultHash: crypto.SHA256})
	_, v6 := entityKey(t, &packet.Config{Algorithm: packet.PubKeyAlgoEd25519, V6Keys: true})

	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{name: "armored", data: pub},
		{name: "binary", data: bin},
		{name: "rsa", data: rsa},
		{name: "armored private", data: priv, wantErr: ErrPrivateKey},
		{name: "binary private", data: privBin.Bytes(), wantErr: ErrPrivateKey},
		{name: "two keys", data: append(append([]byte{}, bin...), otherBin...), wantErr: ErrInvalidKey},
		{name: "expired", data: expired, wantErr: ErrExpiredKey},
		{name: "v6 key", data: v6, wantErr: ErrInvalidKey},
		{name: "garbage", data: []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"), wantErr: ErrInvalidKey},
		{name: "binary garbage", data: []byte{0x99, 0x01, 0x02}, wantErr: ErrInvalidKey},
		{name: "empty", data: nil, wantErr: ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pk, err := ParsePublicKey(tt.data)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, pk.Fingerprint, 40)
			// The normalized form holds public packets only and reads back the same.
			again, err := ParsePublicKey(pk.Armored)
			require.NoError(t, err)
			require.Equal(t, pk, again)
		})
	}
}

func TestDearmor(t *testing.T) {
	t.Parallel()
	priv, pub, err := GenerateKey("Pub", "pub@example.com")
	require.NoError(t, err)

	bin, err := Dearmor(pub)
	require.NoError(t, err)
	pk, err := ParsePublicKey(bin)
	require.NoError(t, err)
	fromArmor, err := ParsePublicKey(pub)
	require.NoError(t, err)
	require.Equal(t, fromArmor.Fingerprint, pk.Fingerprint)

	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{name: "private", data: priv, wantErr: ErrPrivateKey},
		{name: "binary", data: bin, wantErr: ErrInvalidKey},
		{name: "signature block", data: []byte("-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n"), wantErr: ErrInvalidKey},
		{name: "garbage", data: []byte("hello"), wantErr: ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Dearmor(tt.data)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}
