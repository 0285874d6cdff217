package sign

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

var (
	beginSigned    = []byte("-----BEGIN PGP SIGNED MESSAGE-----\n")
	beginSignature = []byte("-----BEGIN PGP SIGNATURE-----")
	endSignature   = []byte("\n-----END PGP SIGNATURE-----")
)

// errUnknownIssuer marks a signature whose key is not registered.
var errUnknownIssuer = errors.New("issuer not registered")

// Verify checks a signature pair submitted for the generated release against
// the registered public keys (each armored or binary; a blob may hold several
// keys) and returns the fingerprints of the registered keys that signed,
// sorted, without duplicates.
//
// Both files must be well-formed and carry at least one valid signature by a
// registered key (else ErrUnknownKey). Every signature by a registered key must
// verify (else ErrBadSignature, or ErrExpiredKey), even when another one does:
// a broken signature in a published file is a fault to report, not to ship.
// Signatures by keys that are not registered are ignored, because they cannot
// be checked and apt ignores them the same way (that is what lets the old and
// the new key both sign during a rotation).
//
// The text of InRelease, dash-escapes removed, must be byte-identical to
// release (else ErrContentMismatch); gpg leaves the final newline of a file
// outside the signed text, so a missing final newline is the one difference
// tolerated. InRelease must be one clearsigned message with nothing before or
// after it, so that no unsigned text rides along to apt clients. Release.gpg
// must be one armored signature block over exactly release.
func Verify(release, inRelease, releaseGPG []byte, publicKeys [][]byte) (signers []string, err error) {
	keyring, err := readKeyring(publicKeys)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	now := time.Now()

	text, block, err := decodeClearsigned(inRelease)
	if err != nil {
		return nil, fmt.Errorf("verify InRelease: %w", err)
	}
	inSigners, err := verifySignatures(block.Bytes, block.ArmoredSignature.Body, keyring, now)
	if err != nil {
		return nil, fmt.Errorf("verify InRelease: %w", err)
	}
	if !sameText(text, release) {
		return nil, fmt.Errorf("verify InRelease: %w", ErrContentMismatch)
	}

	sigBody, err := decodeDetached(releaseGPG)
	if err != nil {
		return nil, fmt.Errorf("verify Release.gpg: %w", err)
	}
	detSigners, err := verifySignatures(release, sigBody, keyring, now)
	if err != nil {
		return nil, fmt.Errorf("verify Release.gpg: %w", err)
	}

	signers = append(inSigners, detSigners...)
	slices.Sort(signers)
	return slices.Compact(signers), nil
}

// readKeyring reads the registered keys. Expiry is not checked here: a
// signature by an expired key must fail as ErrExpiredKey, not ErrUnknownKey.
func readKeyring(publicKeys [][]byte) (openpgp.EntityList, error) {
	var keyring openpgp.EntityList
	for i, data := range publicKeys {
		el, err := readEntities(data)
		if err != nil {
			return nil, fmt.Errorf("registered key %d: %w", i, err)
		}
		for _, e := range el {
			if e.PrivateKey != nil {
				return nil, fmt.Errorf("registered key %d: %w", i, ErrPrivateKey)
			}
		}
		keyring = append(keyring, el...)
	}
	return keyring, nil
}

// decodeClearsigned splits InRelease into its text as apt reads it and the
// block go-crypto verifies. apt reads the file itself, so the text is taken from
// the raw lines here: go-crypto's Plaintext drops trailing whitespace, which
// would hide a difference.
func decodeClearsigned(msg []byte) (text []byte, block *clearsign.Block, err error) {
	if !bytes.HasPrefix(msg, beginSigned) {
		return nil, nil, fmt.Errorf("%w: does not start with %q", ErrBadSignature, bytes.TrimSpace(beginSigned))
	}
	block, rest := clearsign.Decode(msg)
	if block == nil {
		return nil, nil, fmt.Errorf("%w: malformed clearsigned message", ErrBadSignature)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, fmt.Errorf("%w: data after the signature", ErrBadSignature)
	}

	rest = msg[len(beginSigned):]
	for { // armor headers, up to the empty line; clearsign.Decode has checked them
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
	}
	for len(rest) > 0 {
		line, next, _ := bytes.Cut(rest, []byte("\n"))
		if bytes.Equal(bytes.TrimSuffix(line, []byte("\r")), beginSignature) {
			// The line break before the armor belongs to the armor, not the text.
			text = bytes.TrimSuffix(text, []byte("\n"))
			return text, block, nil
		}
		text = append(text, bytes.TrimPrefix(line, []byte("- "))...)
		text = append(text, '\n')
		rest = next
	}
	// Unreachable after a successful clearsign.Decode, which found the armor.
	return nil, nil, fmt.Errorf("%w: no signature", ErrBadSignature)
}

// sameText compares InRelease's text with release. gpg --clearsign signs a
// file's last line without its newline, so "a\nb" stands for "a\nb\n".
func sameText(text, release []byte) bool {
	return bytes.Equal(text, release) ||
		(bytes.HasSuffix(release, []byte("\n")) && bytes.Equal(text, release[:len(release)-1]))
}

// decodeDetached returns the packets of an armored detached signature, which
// must be the whole of Release.gpg apart from surrounding whitespace.
func decodeDetached(sig []byte) (io.Reader, error) {
	trimmed := bytes.TrimSpace(sig)
	if !bytes.HasPrefix(trimmed, beginSignature) || !bytes.HasSuffix(trimmed, endSignature) ||
		bytes.Count(trimmed, beginSignature) != 1 {
		return nil, fmt.Errorf("%w: not one ASCII-armored signature block", ErrBadSignature)
	}
	block, err := armor.Decode(bytes.NewReader(trimmed))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return block.Body, nil
}

// verifySignatures checks every signature packet in sigs over signed and
// returns the fingerprints of the registered keys that made them.
func verifySignatures(signed []byte, sigs io.Reader, keyring openpgp.EntityList, now time.Time) ([]string, error) {
	var signers, unknown []string
	packets := packet.NewReader(sigs)
	for {
		p, err := packets.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			return nil, fmt.Errorf("%w: unexpected %T packet", ErrBadSignature, p)
		}
		fpr, err := verifySignature(signed, sig, keyring, now)
		if errors.Is(err, errUnknownIssuer) {
			unknown = append(unknown, fmt.Sprintf("%016X", *sig.IssuerKeyId))
			continue
		}
		if err != nil {
			return nil, err
		}
		signers = append(signers, fpr)
	}
	if len(signers) == 0 {
		if len(unknown) == 0 {
			return nil, fmt.Errorf("%w: no signature", ErrBadSignature)
		}
		return nil, fmt.Errorf("%w: signed only by key IDs %v", ErrUnknownKey, unknown)
	}
	return signers, nil
}

// verifySignature checks one signature. It hands go-crypto a stream holding
// only this signature, because go-crypto's own loop stops at the first
// signature whose key it knows and would leave the others unchecked.
func verifySignature(signed []byte, sig *packet.Signature, keyring openpgp.EntityList, now time.Time) (string, error) {
	if sig.IssuerKeyId == nil {
		return "", fmt.Errorf("%w: signature names no issuer", ErrBadSignature)
	}
	if len(keyring.KeysById(*sig.IssuerKeyId)) == 0 {
		return "", errUnknownIssuer
	}
	issuer := fmt.Sprintf("%016X", *sig.IssuerKeyId)
	switch sig.Hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return "", fmt.Errorf("%w: signature by %s uses hash %v; apt needs SHA-256 or stronger",
			ErrBadSignature, issuer, sig.Hash)
	}
	checkAt := now
	if sig.CreationTime.After(now) {
		if sig.CreationTime.Sub(now) > maxClockSkew {
			return "", fmt.Errorf("%w: signature by %s is dated %s, in the future (clock skew over %s)",
				ErrBadSignature, issuer, sig.CreationTime.UTC().Format(time.RFC3339), maxClockSkew)
		}
		checkAt = sig.CreationTime
	}

	var one bytes.Buffer
	if err := sig.Serialize(&one); err != nil {
		return "", fmt.Errorf("%w: signature by %s: %v", ErrBadSignature, issuer, err)
	}
	cfg := &packet.Config{Time: func() time.Time { return checkAt }}
	_, e, err := openpgp.VerifyDetachedSignature(keyring, bytes.NewReader(signed), &one, cfg)
	switch {
	case err == nil:
		return fingerprint(e), nil
	case errors.Is(err, pgperrors.ErrKeyExpired), errors.Is(err, pgperrors.ErrSignatureExpired):
		return "", fmt.Errorf("%w: signature by %s: %v", ErrExpiredKey, issuer, err)
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return "", fmt.Errorf("%w: signature by %s: the registered key is revoked", ErrRevokedKey, issuer)
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return "", fmt.Errorf("%w: signature by %s: the registered key may not sign", ErrBadSignature, issuer)
	default:
		return "", fmt.Errorf("%w: signature by %s: %v", ErrBadSignature, issuer, err)
	}
}

// VerifyClearsigned checks an InRelease against public keys, as Verify
// checks the InRelease half of a pair, and returns its text (with the final
// newline gpg leaves outside the signature) and the fingerprints of the keys
// that signed it. A signer uses it to trust the previous generation, which
// it then compares the next one with; ErrUnknownKey means none of the keys
// signed it.
func VerifyClearsigned(inRelease []byte, publicKeys [][]byte) (text []byte, signers []string, err error) {
	keyring, err := readKeyring(publicKeys)
	if err != nil {
		return nil, nil, fmt.Errorf("verify: %w", err)
	}
	text, block, err := decodeClearsigned(inRelease)
	if err != nil {
		return nil, nil, fmt.Errorf("verify InRelease: %w", err)
	}
	signers, err = verifySignatures(block.Bytes, block.ArmoredSignature.Body, keyring, time.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("verify InRelease: %w", err)
	}
	if !bytes.HasSuffix(text, []byte("\n")) {
		text = append(text, '\n')
	}
	slices.Sort(signers)
	return text, slices.Compact(signers), nil
}
