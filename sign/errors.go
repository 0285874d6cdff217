package sign

import "errors"

// The errors below are wrapped (with %w) by every function of the package, so
// callers match them with errors.Is and map them to their own codes: the API
// answers 422 with one code per sentinel.
var (
	// ErrInvalidKey: the data is not a usable OpenPGP key (garbage, several keys
	// where one is expected, a revoked key, a key without a signing capability, or
	// a key Debian 12's gpgv cannot use).
	ErrInvalidKey = errors.New("invalid OpenPGP key")
	// ErrPrivateKey: a private key was given where a public key was expected.
	// The server must never receive one (G7), so it is refused, not converted.
	ErrPrivateKey = errors.New("private key where a public key was expected")
	// ErrPassphrase: the private key is encrypted and the passphrase is missing or wrong.
	ErrPassphrase = errors.New("missing or wrong passphrase")
	// ErrBadSignature: a signature is malformed, uses a hash apt rejects, or does
	// not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownKey: no signature was made by one of the registered keys.
	ErrUnknownKey = errors.New("not signed by a registered key")
	// ErrContentMismatch: the signed text differs from the generated Release.
	ErrContentMismatch = errors.New("signed text differs from Release")
	// ErrExpiredKey: the signing key or the signature has expired.
	ErrExpiredKey = errors.New("key or signature expired")
	// ErrRevokedKey: the signature was made by a key whose registered copy
	// carries a revocation.
	ErrRevokedKey = errors.New("key revoked")
)
