package sign

import (
	"bytes"
	"fmt"
	"slices"
	"time"
)

// VerifyDetached checks a detached armored signature (Release.gpg) over
// data against public keys, as Verify checks the Release.gpg half of a
// pair, and returns the fingerprints of the keys that signed, sorted,
// without duplicates. ErrUnknownKey means none of the keys signed it.
func VerifyDetached(data, sig []byte, publicKeys [][]byte) ([]string, error) {
	keyring, err := readKeyring(publicKeys)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	body, err := decodeDetached(sig)
	if err != nil {
		return nil, fmt.Errorf("verify Release.gpg: %w", err)
	}
	signers, err := verifySignatures(data, body, keyring, time.Now())
	if err != nil {
		return nil, fmt.Errorf("verify Release.gpg: %w", err)
	}
	slices.Sort(signers)
	return slices.Compact(signers), nil
}

// ClearsignedText returns the text of a clearsigned message (InRelease) as
// apt reads it, WITHOUT checking any signature: for a caller that was told
// to trust the source unauthenticated and says so to its user.
func ClearsignedText(msg []byte) ([]byte, error) {
	text, _, err := decodeClearsigned(msg)
	if err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(text, []byte("\n")) {
		text = append(text, '\n')
	}
	return text, nil
}
