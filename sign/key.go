// Package sign makes and checks the OpenPGP signatures of an APT repository:
// InRelease (the Release file, clearsigned) and Release.gpg (a detached,
// armored signature over Release).
//
// Private keys live only in the CLI (G7): it uses GenerateKey, ParsePrivateKey
// and Sign. The server registers public keys with ParsePublicKey and checks a
// submitted signature pair with Verify. Keys and signatures are restricted to
// what Debian 12's apt (gpgv 2.2) verifies: v4 keys and SHA-2 hashes.
package sign

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

const (
	publicKeyBlock  = "PGP PUBLIC KEY BLOCK"
	privateKeyBlock = "PGP PRIVATE KEY BLOCK"
	signatureBlock  = "PGP SIGNATURE"
)

// maxClockSkew is how far the CLI's clock may run ahead of the server's. OpenPGP
// treats a signature (or key) created in the future as invalid, and a CLI that
// signs a second after its clock says so would otherwise be rejected at random.
const maxClockSkew = 5 * time.Minute

// GenerateKey makes a new signing key pair for "name <email>" and returns both
// halves armored. The key is a v4 EdDSA (Ed25519) primary key that only
// certifies and signs, never expires and is not encrypted: the caller decides
// how to store the private half.
//
// v4 EdDSA rather than RFC 9580 Ed25519 (v6): gpgv 2.2, which apt uses on
// Debian 12, only understands the former.
func GenerateKey(name, email string) (privateArmored, publicArmored []byte, err error) {
	cfg := &packet.Config{
		Algorithm:   packet.PubKeyAlgoEdDSA,
		Curve:       packet.Curve25519,
		DefaultHash: crypto.SHA512,
	}
	e, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	// NewEntity adds an encryption subkey; a repository key never decrypts, so
	// it would only be key material to protect for nothing.
	e.Subkeys = nil

	privateArmored, err = armorBlock(privateKeyBlock, func(w io.Writer) error {
		return e.SerializePrivateWithoutSigning(w, cfg)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	publicArmored, err = armorBlock(publicKeyBlock, e.Serialize)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	return privateArmored, publicArmored, nil
}

// Signer is one decrypted private key, ready to sign. Make it with ParsePrivateKey.
type Signer struct {
	entity *openpgp.Entity
}

// ParsePrivateKey reads one private key, armored or binary. An encrypted key is
// decrypted with passphrase; a missing or wrong passphrase gives ErrPassphrase.
// A public key, a key without a usable signing key (expired: ErrExpiredKey) or
// without private key material (a gpg smartcard stub) is refused.
func ParsePrivateKey(armored, passphrase []byte) (*Signer, error) {
	e, err := readEntity(armored)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	if e.PrivateKey == nil {
		return nil, fmt.Errorf("parse private key: %w: this is a public key", ErrInvalidKey)
	}
	if err := checkSigningKey(e, time.Now()); err != nil {
		return nil, fmt.Errorf("parse private key %s: %w", fingerprint(e), err)
	}
	if isEncrypted(e) {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("parse private key %s: %w: the key is encrypted and no passphrase was given",
				fingerprint(e), ErrPassphrase)
		}
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, fmt.Errorf("parse private key %s: %w: %v", fingerprint(e), ErrPassphrase, err)
		}
	}
	k, _ := e.SigningKey(time.Now())
	if k.PrivateKey == nil || k.PrivateKey.Dummy() {
		return nil, fmt.Errorf("parse private key %s: %w: the signing key's private part is missing (smartcard stub?)",
			fingerprint(e), ErrInvalidKey)
	}
	return &Signer{entity: e}, nil
}

// Fingerprint is the primary key's fingerprint in uppercase hex, as gpg prints it.
func (s *Signer) Fingerprint() string { return fingerprint(s.entity) }

// PublicArmored returns the armored public half of the key, for registering it.
func (s *Signer) PublicArmored() ([]byte, error) {
	b, err := armorBlock(publicKeyBlock, s.entity.Serialize)
	if err != nil {
		return nil, fmt.Errorf("export public key %s: %w", s.Fingerprint(), err)
	}
	return b, nil
}

// PublicKey describes a registered public key.
type PublicKey struct {
	// Fingerprint of the primary key, uppercase hex: the key's identity in aptq.
	Fingerprint string
	// UserIDs are the key's user IDs ("Name <email>"), sorted.
	UserIDs []string
	// Created is the primary key's creation time.
	Created time.Time
	// Armored is the key re-serialized and armored: public packets only, so it is
	// safe to store and to publish.
	Armored []byte
	// Revoked: the primary key carries a revocation (only ParseKeyUpdate
	// returns such a key).
	Revoked bool
}

// ParsePublicKey reads one public key, armored or binary. A private key is
// refused with ErrPrivateKey, anything that is not exactly one usable signing
// key with ErrInvalidKey (or ErrExpiredKey).
func ParsePublicKey(data []byte) (PublicKey, error) {
	el, err := readEntities(data)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parse public key: %w", err)
	}
	if slices.ContainsFunc(el, func(e *openpgp.Entity) bool { return e.PrivateKey != nil }) {
		return PublicKey{}, fmt.Errorf("parse public key: %w", ErrPrivateKey)
	}
	if len(el) != 1 {
		return PublicKey{}, fmt.Errorf("parse public key: %w: %d keys, expected one", ErrInvalidKey, len(el))
	}
	e := el[0]
	// Tolerate a key generated on a machine whose clock runs ahead.
	if err := checkSigningKey(e, time.Now().Add(maxClockSkew)); err != nil {
		return PublicKey{}, fmt.Errorf("parse public key %s: %w", fingerprint(e), err)
	}
	armored, err := armorBlock(publicKeyBlock, e.Serialize)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parse public key %s: %w", fingerprint(e), err)
	}
	ids := make([]string, 0, len(e.Identities))
	for id := range e.Identities {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return PublicKey{
		Fingerprint: fingerprint(e),
		UserIDs:     ids,
		Created:     e.PrimaryKey.CreationTime,
		Armored:     armored,
	}, nil
}

// Dearmor turns armored public keys into the binary keyring form that apt's
// signed-by option and gpgv --keyring read. Binary keyrings concatenate, so the
// keyring for a key rotation is the Dearmor outputs of both keys appended.
func Dearmor(publicArmored []byte) ([]byte, error) {
	block, err := armor.Decode(bytes.NewReader(publicArmored))
	if err != nil {
		return nil, fmt.Errorf("dearmor: %w: %v", ErrInvalidKey, err)
	}
	switch block.Type {
	case publicKeyBlock:
	case privateKeyBlock:
		return nil, fmt.Errorf("dearmor: %w", ErrPrivateKey)
	default:
		return nil, fmt.Errorf("dearmor: %w: armor block %q", ErrInvalidKey, block.Type)
	}
	bin, err := io.ReadAll(block.Body) // also checks the armor checksum
	if err != nil {
		return nil, fmt.Errorf("dearmor: %w: %v", ErrInvalidKey, err)
	}
	el, err := readEntities(bin)
	if err != nil {
		return nil, fmt.Errorf("dearmor: %w", err)
	}
	if slices.ContainsFunc(el, func(e *openpgp.Entity) bool { return e.PrivateKey != nil }) {
		return nil, fmt.Errorf("dearmor: %w", ErrPrivateKey)
	}
	return bin, nil
}

// readEntity reads exactly one key, public or private.
func readEntity(data []byte) (*openpgp.Entity, error) {
	el, err := readEntities(data)
	if err != nil {
		return nil, err
	}
	if len(el) != 1 {
		return nil, fmt.Errorf("%w: %d keys, expected one", ErrInvalidKey, len(el))
	}
	return el[0], nil
}

// readEntities reads keys, binary or armored; every result has at least one key.
// Armored data may hold several blocks (keys exported one after the other):
// armor.Decode reads only the first, so each block is decoded on its own
// rather than silently dropping the others.
func readEntities(data []byte) (openpgp.EntityList, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, armorBegin) {
		return readKeyRing(bytes.NewReader(data))
	}
	var all openpgp.EntityList
	for rest := trimmed; len(bytes.TrimSpace(rest)) > 0; {
		chunk := rest
		rest = nil
		if i := bytes.Index(chunk, armorEnd); i >= 0 {
			if nl := bytes.IndexByte(chunk[i:], '\n'); nl >= 0 {
				chunk, rest = chunk[:i+nl+1], chunk[i+nl+1:]
			}
		}
		block, err := armor.Decode(bytes.NewReader(chunk))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		if block.Type != publicKeyBlock && block.Type != privateKeyBlock {
			return nil, fmt.Errorf("%w: armor block %q is not a key", ErrInvalidKey, block.Type)
		}
		el, err := readKeyRing(block.Body)
		if err != nil {
			return nil, err
		}
		all = append(all, el...)
	}
	return all, nil
}

var (
	armorBegin = []byte("-----BEGIN ")
	armorEnd   = []byte("-----END ")
)

func readKeyRing(r io.Reader) (openpgp.EntityList, error) {
	el, err := openpgp.ReadKeyRing(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if len(el) == 0 {
		return nil, fmt.Errorf("%w: no key found", ErrInvalidKey)
	}
	return el, nil
}

// checkSigningKey reports why e cannot sign at now, in terms apt users meet.
func checkSigningKey(e *openpgp.Entity, now time.Time) error {
	if v := e.PrimaryKey.Version; v != 4 {
		return fmt.Errorf("%w: OpenPGP v%d key; apt on Debian 12 (gpgv 2.2) verifies v4 keys only", ErrInvalidKey, v)
	}
	if k, ok := e.SigningKey(now); ok {
		switch k.PublicKey.PubKeyAlgo {
		case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly, packet.PubKeyAlgoECDSA, packet.PubKeyAlgoEdDSA:
			return nil
		default:
			return fmt.Errorf("%w: signing algorithm %d is not verified by apt on Debian 12 (gpgv 2.2)",
				ErrInvalidKey, k.PublicKey.PubKeyAlgo)
		}
	}
	if sig, _ := e.PrimarySelfSignature(); sig != nil && e.PrimaryKey.KeyExpired(sig, now) {
		return fmt.Errorf("%w: the key expired or is not valid yet", ErrExpiredKey)
	}
	if e.Revoked(now) {
		return fmt.Errorf("%w: the key is revoked", ErrInvalidKey)
	}
	return fmt.Errorf("%w: no valid signing key (expired or revoked subkey, or no sign capability)", ErrInvalidKey)
}

func isEncrypted(e *openpgp.Entity) bool {
	if e.PrivateKey.Encrypted {
		return true
	}
	return slices.ContainsFunc(e.Subkeys, func(s openpgp.Subkey) bool {
		return s.PrivateKey != nil && s.PrivateKey.Encrypted
	})
}

func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

// armorBlock armors what serialize writes, ending with a newline like gpg does.
func armorBlock(blockType string, serialize func(io.Writer) error) ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, blockType, nil)
	if err != nil {
		return nil, err
	}
	if err := serialize(w); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
