package api

import (
	"regexp"
	"strings"
)

// maxSignedBy bounds the fingerprints of a Signed-By field: a key rotation
// needs two, a few subkeys a handful more.
const maxSignedBy = 8

// fingerprintRe is an OpenPGP v4 (40 hex digits) or v5/v6 (64) fingerprint,
// with apt's optional "!" that pins that exact subkey.
var fingerprintRe = regexp.MustCompile(`^([0-9A-F]{40}|[0-9A-F]{64})!?$`)

// normalizeSignedBy checks a Signed-By value, fingerprints separated by
// commas or spaces as apt reads them, and writes it as apt documents it:
// uppercase, comma-separated. An armored key, a path or anything else is
// refused: apt would reject the Release that carried it.
func normalizeSignedBy(v string) (string, error) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
	if len(fields) == 0 {
		if strings.TrimSpace(v) != "" {
			return "", invalidField("signed_by", "signed_by must list fingerprints")
		}
		return "", nil
	}
	if len(fields) > maxSignedBy {
		return "", invalidField("signed_by", "signed_by lists at most %d fingerprints, not %d", maxSignedBy, len(fields))
	}
	for i, f := range fields {
		f = strings.ToUpper(f)
		if !fingerprintRe.MatchString(f) {
			return "", invalidField("signed_by", "signed_by: %q is not an OpenPGP fingerprint of 40 or 64 hex digits (optionally ending in !)",
				truncateText(fields[i]))
		}
		fields[i] = f
	}
	return strings.Join(fields, ", "), nil
}

// validateOptions checks and normalizes a release's options.
func validateOptions(req *ReleaseRequest) error {
	if req.ButAutomaticUpgrades && !req.NotAutomatic {
		return invalidField("but_automatic_upgrades", "but_automatic_upgrades needs not_automatic: apt ignores it otherwise")
	}
	var err error
	req.SignedBy, err = normalizeSignedBy(req.SignedBy)
	return err
}
