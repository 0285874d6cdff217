package sign

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// ParseKeyUpdate reads a new copy of a registered key, as gpg --export
// gives it after gpg --gen-revoke was imported or the expiry was changed,
// and returns the key to store in place of registered.
//
// Unlike ParsePublicKey, a revoked or expired key is accepted: registering
// the revocation is how it takes effect, and Verify then refuses the key's
// signatures (ErrRevokedKey). The update must be the same primary key
// (ErrInvalidKey otherwise), and it cannot undo a revocation: revocations
// of the registered copy are kept even when the update lacks them, so
// re-adding an older export leaves a revoked key revoked.
func ParseKeyUpdate(registered, update []byte) (PublicKey, error) {
	old, err := readEntity(registered)
	if err != nil {
		return PublicKey{}, fmt.Errorf("registered key: %w", err)
	}
	e, err := readEntity(update)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parse key update: %w", err)
	}
	if e.PrivateKey != nil {
		return PublicKey{}, fmt.Errorf("parse key update: %w", ErrPrivateKey)
	}
	if fingerprint(e) != fingerprint(old) {
		return PublicKey{}, fmt.Errorf("parse key update: %w: key %s is not the registered %s",
			ErrInvalidKey, fingerprint(e), fingerprint(old))
	}
	if v := e.PrimaryKey.Version; v != 4 {
		return PublicKey{}, fmt.Errorf("parse key update: %w: OpenPGP v%d key", ErrInvalidKey, v)
	}
	e.Revocations = mergeSignatures(e.Revocations, old.Revocations)
	for _, sub := range old.Subkeys {
		i := slices.IndexFunc(e.Subkeys, func(s openpgp.Subkey) bool {
			return bytes.Equal(s.PublicKey.Fingerprint, sub.PublicKey.Fingerprint)
		})
		if i < 0 {
			e.Subkeys = append(e.Subkeys, sub) // a dropped subkey must not shed its revocation
			continue
		}
		e.Subkeys[i].Revocations = mergeSignatures(e.Subkeys[i].Revocations, sub.Revocations)
	}
	armored, err := armorBlock(publicKeyBlock, e.Serialize)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parse key update %s: %w", fingerprint(e), err)
	}
	ids := make([]string, 0, len(e.Identities))
	for id := range e.Identities {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return PublicKey{Fingerprint: fingerprint(e), UserIDs: ids, Created: e.PrimaryKey.CreationTime,
		Armored: armored, Revoked: e.Revoked(time.Now())}, nil
}

// mergeSignatures returns to plus the signatures of from it lacks.
func mergeSignatures(to, from []*packet.Signature) []*packet.Signature {
	have := make([][]byte, 0, len(to))
	for _, s := range to {
		have = append(have, serializeSig(s))
	}
	for _, s := range from {
		b := serializeSig(s)
		if !slices.ContainsFunc(have, func(h []byte) bool { return bytes.Equal(h, b) }) {
			to = append(to, s)
			have = append(have, b)
		}
	}
	return to
}

func serializeSig(s *packet.Signature) []byte {
	var buf bytes.Buffer
	_ = s.Serialize(&buf) // a signature read from a key serializes again
	return buf.Bytes()
}
