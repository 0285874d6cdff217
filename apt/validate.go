package apt

import (
	"errors"
	"fmt"
	"strings"
)

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
