package sign

import (
	"bytes"
	"crypto"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/require"
)

const testRelease = `Origin: aptq
Label: aptq
Suite: stable
Codename: bookworm
Date: Sat, 21 Nov 2026 10:00:00 UTC
Architectures: amd64 arm64
Components: main
Acquire-By-Hash: yes
SHA256:
 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855        0 main/binary-amd64/Packages
 9ad0a2c0ab5a2f3a2d3d2a1c5a8f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b       20 main/binary-amd64/Packages.gz
`

// signatures returns the signature packets inside an armored signature or clearsigned message.
func signatures(t testing.TB, signed []byte) []*packet.Signature {
	t.Helper()
	if i := bytes.Index(signed, beginSignature); i > 0 {
		signed = signed[i:]
	}
	block, err := armor.Decode(bytes.NewReader(signed))
	require.NoError(t, err)
	var sigs []*packet.Signature
	r := packet.NewReader(block.Body)
	for {
		p, err := r.Next()
		if err == io.EOF {
			return sigs
		}
		require.NoError(t, err)
		sigs = append(sigs, p.(*packet.Signature))
	}
}

// joinSignatures puts the signature packets of several Release.gpg files into one.
func joinSignatures(t testing.TB, files ...[]byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := armor.Encode(&out, signatureBlock, nil)
	require.NoError(t, err)
	for _, f := range files {
		block, err := armor.Decode(bytes.NewReader(f))
		require.NoError(t, err)
		_, err = io.Copy(w, block.Body)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	out.WriteByte('\n')
	return out.Bytes()
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	s, pub := newKey(t, "alice")

	tests := []struct {
		name    string
		release string
	}{
		{name: "release file", release: testRelease},
		{name: "dash lines are escaped", release: "Origin: x\n-not-a-field\n-----BEGIN PGP SIGNATURE-----\n- dash space\n"},
		{name: "no final newline", release: "Origin: x\nLabel: y"},
		{name: "blank lines at the end", release: "Origin: x\n\n\n"},
		{name: "single line", release: "Origin: x\n"},
		{name: "empty", release: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := []byte(tt.release)
			inRelease, releaseGPG, err := Sign(release, s)
			require.NoError(t, err)
			require.True(t, bytes.HasPrefix(inRelease, []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n")))
			require.True(t, bytes.HasPrefix(releaseGPG, []byte("-----BEGIN PGP SIGNATURE-----\n")))
			for _, sig := range append(signatures(t, inRelease), signatures(t, releaseGPG)...) {
				require.Equal(t, crypto.SHA512, sig.Hash)
			}

			signers, err := Verify(release, inRelease, releaseGPG, [][]byte{pub})
			require.NoError(t, err)
			require.Equal(t, []string{s.Fingerprint()}, signers)
		})
	}
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	s, _ := newKey(t, "alice")

	tests := []struct {
		name    string
		release string
		signers []*Signer
		wantErr error
	}{
		{name: "trailing space", release: "Origin: x \nLabel: y\n", signers: []*Signer{s}, wantErr: ErrContentMismatch},
		{name: "trailing tab on last line", release: "Origin: x\nLabel: y\t", signers: []*Signer{s}, wantErr: ErrContentMismatch},
		{name: "CRLF", release: "Origin: x\r\nLabel: y\r\n", signers: []*Signer{s}, wantErr: ErrContentMismatch},
		{name: "no signer", release: "Origin: x\n", wantErr: ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Sign([]byte(tt.release), tt.signers...)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestVerifyKeyRotation(t *testing.T) {
	t.Parallel()
	old, oldPub := newKey(t, "old")
	next, nextPub := newKey(t, "new")
	_, otherPub := newKey(t, "other")
	release := []byte(testRelease)
	inRelease, releaseGPG, err := Sign(release, old, next)
	require.NoError(t, err)
	require.Len(t, signatures(t, inRelease), 2)
	require.Len(t, signatures(t, releaseGPG), 2)

	both := []string{old.Fingerprint(), next.Fingerprint()}
	slices.Sort(both)
	tests := []struct {
		name       string
		registered [][]byte
		want       []string
		wantErr    error
	}{
		{name: "new key only", registered: [][]byte{nextPub}, want: []string{next.Fingerprint()}},
		{name: "old key only", registered: [][]byte{oldPub}, want: []string{old.Fingerprint()}},
		{name: "both keys", registered: [][]byte{nextPub, oldPub}, want: both},
		{name: "both keys in one keyring", registered: [][]byte{append(append([]byte{}, oldPub...), nextPub...)}, want: both},
		{name: "neither key", registered: [][]byte{otherPub}, wantErr: ErrUnknownKey},
		{name: "no keys", wantErr: ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			signers, err := Verify(release, inRelease, releaseGPG, tt.registered)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, signers)
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	alice, alicePub := newKey(t, "alice")
	bob, bobPub := newKey(t, "bob")
	mallory, _ := newKey(t, "mallory")
	alicePriv, _, err := GenerateKey("priv", "priv@example.com")
	require.NoError(t, err)

	release := []byte(testRelease)
	inRelease, releaseGPG, err := Sign(release, alice)
	require.NoError(t, err)
	otherIn, otherGPG, err := Sign([]byte("Origin: other\n"), alice)
	require.NoError(t, err)
	malloryIn, malloryGPG, err := Sign(release, mallory)
	require.NoError(t, err)
	_, bobOtherGPG, err := Sign([]byte("Origin: other\n"), bob)
	require.NoError(t, err)
	binaryGPG := func() []byte {
		block, err := armor.Decode(bytes.NewReader(releaseGPG))
		require.NoError(t, err)
		b, err := io.ReadAll(block.Body)
		require.NoError(t, err)
		return b
	}()
	// Flip one bit inside the EdDSA signature value, keeping the armor valid.
	corruptGPG := func() []byte {
		sig := signatures(t, releaseGPG)[0]
		sig.EdDSASigS.Bytes()[0] ^= 1
		var out bytes.Buffer
		w, err := armor.Encode(&out, signatureBlock, nil)
		require.NoError(t, err)
		require.NoError(t, sig.Serialize(w))
		require.NoError(t, w.Close())
		return out.Bytes()
	}()
	replace := func(b []byte, old, new string) []byte {
		require.Contains(t, string(b), old)
		return []byte(strings.Replace(string(b), old, new, 1))
	}

	tests := []struct {
		name       string
		release    []byte
		inRelease  []byte
		releaseGPG []byte
		registered [][]byte
		wantErr    error
	}{
		{name: "release differs", release: replace(release, "Suite: stable", "Suite: testing"), wantErr: ErrContentMismatch},
		{name: "release has an extra line", release: append(append([]byte{}, release...), "X: y\n"...), wantErr: ErrContentMismatch},
		{name: "signed another release", release: release, inRelease: otherIn, releaseGPG: otherGPG, wantErr: ErrContentMismatch},
		{name: "InRelease text edited", inRelease: replace(inRelease, "Suite: stable", "Suite: testing"), wantErr: ErrBadSignature},
		// Trailing whitespace and CRLF are outside what the signature covers, so
		// only the byte comparison catches them.
		{name: "InRelease trailing space added", inRelease: replace(inRelease, "Suite: stable\n", "Suite: stable \n"), wantErr: ErrContentMismatch},
		{name: "InRelease CRLF", inRelease: bytes.ReplaceAll(inRelease, []byte("\n"), []byte("\r\n")), wantErr: ErrBadSignature},
		{name: "InRelease with leading text", inRelease: append([]byte("hello\n"), inRelease...), wantErr: ErrBadSignature},
		{name: "InRelease with trailing data", inRelease: append(append([]byte{}, inRelease...), "Origin: evil\n"...), wantErr: ErrBadSignature},
		{name: "InRelease empty", inRelease: []byte{}, wantErr: ErrBadSignature},
		{name: "files swapped", inRelease: releaseGPG, releaseGPG: inRelease, wantErr: ErrBadSignature},
		{name: "Release.gpg over another release", releaseGPG: otherGPG, wantErr: ErrBadSignature},
		{name: "Release.gpg corrupted", releaseGPG: corruptGPG, wantErr: ErrBadSignature},
		{name: "Release.gpg not armored", releaseGPG: binaryGPG, wantErr: ErrBadSignature},
		{name: "Release.gpg with a bad signature beside a good one", releaseGPG: joinSignatures(t, releaseGPG, bobOtherGPG),
			registered: [][]byte{alicePub, bobPub}, wantErr: ErrBadSignature},
		{name: "Release.gpg with an unknown signature beside a good one", releaseGPG: joinSignatures(t, releaseGPG, malloryGPG)},
		{name: "signed by an unregistered key", inRelease: malloryIn, releaseGPG: malloryGPG, wantErr: ErrUnknownKey},
		{name: "only Release.gpg by an unregistered key", releaseGPG: malloryGPG, wantErr: ErrUnknownKey},
		{name: "private key registered", registered: [][]byte{alicePriv}, wantErr: ErrPrivateKey},
		{name: "garbage registered", registered: [][]byte{[]byte("garbage")}, wantErr: ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rel, in, det, keys := release, inRelease, releaseGPG, [][]byte{alicePub}
			if tt.release != nil {
				rel = tt.release
			}
			if tt.inRelease != nil {
				in = tt.inRelease
			}
			if tt.releaseGPG != nil {
				det = tt.releaseGPG
			}
			if tt.registered != nil {
				keys = tt.registered
			}
			signers, err := Verify(rel, in, det, keys)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Nil(t, signers)
				return
			}
			require.NoError(t, err)
			require.Equal(t, []string{alice.Fingerprint()}, signers)
		})
	}
}

func TestVerifyTimes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	fresh, freshPub := newKey(t, "fresh")
	expiring, expiringPub := entityKey(t, &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 3600,
		Time: func() time.Time { return now.Add(-2 * time.Hour) },
	})

	tests := []struct {
		name    string
		signer  *Signer
		pub     []byte
		at      time.Time
		wantErr error
	}{
		{name: "now", signer: fresh, pub: freshPub, at: now},
		{name: "CLI clock a minute ahead", signer: fresh, pub: freshPub, at: now.Add(time.Minute)},
		{name: "CLI clock an hour ahead", signer: fresh, pub: freshPub, at: now.Add(time.Hour), wantErr: ErrBadSignature},
		{name: "signed while valid, key expired since", signer: expiring, pub: expiringPub, at: now.Add(-90 * time.Minute), wantErr: ErrExpiredKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := []byte(testRelease)
			inRelease, releaseGPG, err := signAt(release, tt.at, []*Signer{tt.signer})
			require.NoError(t, err)
			_, err = Verify(release, inRelease, releaseGPG, [][]byte{tt.pub})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestVerifySignatureRejectsWeakHash(t *testing.T) {
	t.Parallel()
	s, pub := newKey(t, "alice")
	release := []byte(testRelease)
	_, releaseGPG, err := Sign(release, s)
	require.NoError(t, err)
	keyring, err := readKeyring([][]byte{pub})
	require.NoError(t, err)

	for _, h := range []crypto.Hash{crypto.SHA1, crypto.MD5, crypto.SHA224} {
		sig := signatures(t, releaseGPG)[0]
		sig.Hash = h
		_, err := verifySignature(release, sig, keyring, time.Now())
		require.ErrorIs(t, err, ErrBadSignature, h.String())
	}
}
