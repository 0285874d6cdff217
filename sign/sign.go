package sign

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Sign signs release with every signer and returns InRelease (release
// clearsigned) and Release.gpg (a detached, armored signature over release).
// Several signers put all their signatures into each file; that is how a key
// rotation is published, since apt accepts a file when any one of its
// signatures is by a key it trusts. Signatures use SHA-512 (apt rejects SHA-1).
//
// Clearsigning does not preserve trailing spaces, tabs or carriage returns at
// line ends, so a release containing them is refused with ErrContentMismatch
// rather than producing an InRelease whose text differs from release.
func Sign(release []byte, signers ...*Signer) (inRelease, releaseGPG []byte, err error) {
	return signAt(release, time.Now(), signers)
}

// signAt is Sign at a given time, so tests can make old and future signatures.
func signAt(release []byte, now time.Time, signers []*Signer) (inRelease, releaseGPG []byte, err error) {
	if len(signers) == 0 {
		return nil, nil, fmt.Errorf("sign: %w: no signing key given", ErrInvalidKey)
	}
	if line := trailingSpaceLine(release); line > 0 {
		return nil, nil, fmt.Errorf("sign: %w: line %d ends in whitespace, which clearsigning drops",
			ErrContentMismatch, line)
	}
	cfg := &packet.Config{DefaultHash: crypto.SHA512, Time: func() time.Time { return now }}

	keys := make([]*packet.PrivateKey, len(signers))
	for i, s := range signers {
		k, ok := s.entity.SigningKey(now)
		if !ok {
			return nil, nil, fmt.Errorf("sign with %s: %w", s.Fingerprint(), checkSigningKey(s.entity, now))
		}
		keys[i] = k.PrivateKey
	}

	var in bytes.Buffer
	w, err := clearsign.EncodeMulti(&in, keys, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("sign InRelease: %w", err)
	}
	if _, err := w.Write(release); err != nil {
		return nil, nil, fmt.Errorf("sign InRelease: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, nil, fmt.Errorf("sign InRelease: %w", err)
	}
	inRelease, err = withArmorChecksum(in.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("sign InRelease: %w", err)
	}

	// One armor block holding one signature packet per signer, like
	// gpg --detach-sign -u A -u B.
	var det bytes.Buffer
	aw, err := armor.Encode(&det, signatureBlock, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("sign Release.gpg: %w", err)
	}
	for _, s := range signers {
		if err := openpgp.DetachSign(aw, s.entity, bytes.NewReader(release), cfg); err != nil {
			return nil, nil, fmt.Errorf("sign Release.gpg with %s: %w", s.Fingerprint(), err)
		}
	}
	if err := aw.Close(); err != nil {
		return nil, nil, fmt.Errorf("sign Release.gpg: %w", err)
	}
	det.WriteByte('\n')
	return inRelease, det.Bytes(), nil
}

// withArmorChecksum re-armors the signature block of a clearsigned message
// with the CRC24 line that go-crypto leaves out (RFC 9580 makes it
// optional): Debian 12's gpgv reports NODATA on an armor without it. The
// signature bytes are unchanged.
func withArmorChecksum(msg []byte) ([]byte, error) {
	start := bytes.Index(msg, []byte("\n-----BEGIN PGP SIGNATURE-----"))
	if start < 0 {
		return nil, fmt.Errorf("no signature block in the clearsigned message")
	}
	block, err := armor.Decode(bytes.NewReader(msg[start+1:]))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Write(msg[:start+1])
	aw, err := armor.Encode(&out, block.Type, block.Header)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(aw, block.Body); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// trailingSpaceLine returns the 1-based number of the first line of text that
// ends in a space, tab or carriage return, or 0 if there is none.
func trailingSpaceLine(text []byte) int {
	for n, line := range bytes.SplitAfter(text, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) > 0 && bytes.ContainsAny(line[len(line)-1:], " \t\r") {
			return n + 1
		}
	}
	return 0
}
