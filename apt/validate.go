package apt

import (
	"errors"
	"fmt"
	"strings"
)

// Length limits on the control fields that name a package. Debian sets
// none, but its archive has no name over 70 bytes nor a version over 60;
// these values end up in pool paths, S3 keys (at most 1024 bytes), index
// lines and database rows, so a 5 000-byte version must not get that far.
const (
	maxPackageName  = 128
	maxVersion      = 256
	maxArchitecture = 32
)

// checkControlLengths caps the fields parseControl extracted, before their
// syntax is checked, so that no error message or later step handles a huge
// value.
func checkControlLengths(p Paragraph) error {
	for _, f := range []struct {
		name string
		max  int
	}{{"Package", maxPackageName}, {"Version", maxVersion}, {"Architecture", maxArchitecture},
		{"Source", maxPackageName + len(" ()") + maxVersion}} {
		if n := len(p.Get(f.name)); n > f.max {
			return fmt.Errorf("%s field is %d bytes, at most %d allowed", f.name, n, f.max)
		}
	}
	return nil
}

// checkPackageName enforces Debian Policy 5.6.1: lowercase letters, digits
// and "+-.", at least two characters, starting with a letter or digit. The
// name becomes part of pool paths and S3 keys, so nothing else may pass.
func checkPackageName(name string) error {
	if len(name) < 2 {
		return fmt.Errorf("%q is too short (at least 2 characters)", name)
	}
	if !isLowerAlnum(name[0]) {
		return fmt.Errorf("%q must start with a lowercase letter or digit", truncate(name))
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isLowerAlnum(c) && c != '+' && c != '-' && c != '.' {
			return fmt.Errorf("%q may contain only lowercase letters, digits and \"+-.\"", truncate(name))
		}
	}
	return nil
}

// checkArchitecture accepts a Debian architecture name ("amd64", "arm64",
// "all", "kfreebsd-i386", ...): lowercase letters, digits and '-'.
func checkArchitecture(arch string) error {
	if arch == "" {
		return errors.New("architecture is empty")
	}
	for i := 0; i < len(arch); i++ {
		if c := arch[i]; !isLowerAlnum(c) && c != '-' {
			return fmt.Errorf("%q may contain only lowercase letters, digits and \"-\"", truncate(arch))
		}
	}
	return nil
}

// sourceName returns the source package name from a Source field, which is
// "name" or "name (version)" when the source version differs from the
// binary's.
func sourceName(field string) (string, error) {
	name, rest, hasVersion := strings.Cut(field, " ")
	if hasVersion {
		rest = strings.TrimSpace(rest)
		if len(rest) < 3 || rest[0] != '(' || rest[len(rest)-1] != ')' {
			return "", fmt.Errorf("%q must be \"name\" or \"name (version)\"", truncate(field))
		}
		if _, err := parseVersion(rest[1 : len(rest)-1]); err != nil {
			return "", fmt.Errorf("version in %q: %v", truncate(field), err)
		}
	}
	if err := checkPackageName(name); err != nil {
		return "", err
	}
	return name, nil
}

func isLowerAlnum(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'z') }

// CheckPackageName reports whether name is a valid binary package name,
// as an upload's Package field must be.
func CheckPackageName(name string) error {
	if len(name) > maxPackageName {
		return fmt.Errorf("package name is %d bytes, at most %d allowed", len(name), maxPackageName)
	}
	return checkPackageName(name)
}

// CheckVersion reports whether v is a valid Debian version, as an upload's
// Version field must be.
func CheckVersion(v string) error {
	if len(v) > maxVersion {
		return fmt.Errorf("version is %d bytes, at most %d allowed", len(v), maxVersion)
	}
	if _, err := parseVersion(v); err != nil {
		return fmt.Errorf("version %q: %w", truncate(v), err)
	}
	return nil
}

// CheckArchitecture reports whether arch is a valid architecture name, as
// an upload's Architecture field must be.
func CheckArchitecture(arch string) error {
	if len(arch) > maxArchitecture {
		return fmt.Errorf("architecture is %d bytes, at most %d allowed", len(arch), maxArchitecture)
	}
	return checkArchitecture(arch)
}
