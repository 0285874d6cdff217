package apt

import (
	"path"
	"strings"
)

// PoolPath returns where a .deb lives, relative to the repository root:
// "pool/<component>/<prefix>/<source>/<name>_<version>_<arch>.deb", the
// layout of the Debian archive. The prefix is the first letter of the
// source name, or its first four letters ("libc" for "libcurl") when it
// starts with "lib" and is longer than that, so that the thousands of lib*
// sources do not share one directory. The epoch is dropped from the file
// name (1:2.0-1 → 2.0-1), as in the Debian archive: colons are awkward in
// URLs and file systems. Two versions that differ only in their epoch map to
// the same path; the caller must treat that as a conflict, as dak does. An
// empty source means name.
//
// The arguments must be validated names (ReadDeb guarantees it); PoolPath
// does not escape them.
//
// A source package (arch ArchSource) is at its .dsc: SourceDir/DSCName.
func PoolPath(component, source, name, version, arch string) string {
	if source == "" {
		source = name
	}
	if arch == ArchSource {
		return SourceDir(component, source) + "/" + DSCName(name, version)
	}
	if _, rest, ok := strings.Cut(version, ":"); ok {
		version = rest
	}
	return SourceDir(component, source) + "/" + name + "_" + version + "_" + arch + ".deb"
}

// SourceDir returns the pool directory of a source package and of the
// binaries built from it, relative to the repository root:
// "pool/<component>/<prefix>/<source>".
func SourceDir(component, source string) string {
	prefix := source[:min(1, len(source))]
	if strings.HasPrefix(source, "lib") && len(source) > 3 {
		prefix = source[:4]
	}
	return "pool/" + component + "/" + prefix + "/" + source
}

// ByHashPath returns the by-hash name of an index file listed in Release,
// relative to dists/<release>/ like indexPath:
// ByHashPath("main/binary-amd64/Packages.xz", "SHA256", h) is
// "main/binary-amd64/by-hash/SHA256/<h>". apt (with Acquire-By-Hash: yes)
// fetches these immutable names instead of the mutable ones, which is what
// lets a repository change without clients seeing a hash mismatch. algo is
// the Release field name: "SHA256" or "SHA512" (or "MD5Sum", "SHA1").
func ByHashPath(indexPath, algo, hex string) string {
	return path.Join(path.Dir(indexPath), "by-hash", algo, hex)
}
