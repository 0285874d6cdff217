package mirror

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

// Release is the source's Release as read and, when a keyring was given,
// authenticated.
type Release struct {
	*apt.Release
	// Path is the file the text came from: dists/<dist>/InRelease or
	// dists/<dist>/Release.
	Path string
	// SignedBy are the fingerprints of the keyring's keys that signed it;
	// empty when no keyring was given and nothing was authenticated.
	SignedBy []string
}

// ReadRelease reads dists/<dist>/InRelease, else Release (with Release.gpg
// when a keyring is given), checks the signature against the keyring, and
// parses it. A source that is signed by none of the keyring's keys is
// refused here, before anything else is read from it.
func (s *Source) ReadRelease(ctx context.Context) (*Release, error) {
	l := s.Limits.withDefaults()
	dir := "dists/" + s.Dist + "/"
	if err := CheckPath(dir + "Release"); err != nil {
		return nil, fmt.Errorf("distribution %q: %w", s.Dist, err)
	}
	r := &Release{Path: dir + "InRelease"}
	text, err := s.read(ctx, r.Path, l.MaxRelease)
	switch {
	case err == nil && len(s.Keyring) > 0:
		text, r.SignedBy, err = sign.VerifyClearsigned(text, s.Keyring)
	case err == nil:
		text, err = sign.ClearsignedText(text)
	case errors.Is(err, ErrNotFound):
		r.Path = dir + "Release"
		text, r.SignedBy, err = s.readDetached(ctx, r.Path, l.MaxRelease)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path, err)
	}
	if r.Release, err = apt.ParseRelease(text); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path, err)
	}
	return r, nil
}

// readDetached reads Release and, with a keyring, checks Release.gpg.
func (s *Source) readDetached(ctx context.Context, path string, limit int64) ([]byte, []string, error) {
	text, err := s.read(ctx, path, limit)
	if err != nil || len(s.Keyring) == 0 {
		return text, nil, err
	}
	sig, err := s.read(ctx, path+".gpg", limit)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, fmt.Errorf("neither InRelease nor Release.gpg exists: the source cannot be authenticated")
	}
	if err != nil {
		return nil, nil, err
	}
	signers, err := sign.VerifyDetached(text, sig, s.Keyring)
	return text, signers, err
}

// Index is one Packages index chosen from the Release.
type Index struct {
	Component, Arch string
	// File is the Release's entry for the variant to read (.xz, else .gz,
	// else plain); its Path is relative to dists/<dist>/.
	File apt.IndexFile
}

// indexVariants are the Packages variants read, best first: the smallest
// download that every apt-era tool writes.
var indexVariants = []string{".xz", ".gz", ""}

// Indexes chooses one Packages index per component and architecture, each
// listed in the Release with a SHA256, and the binary-all index of each
// component when the Release lists one (apt-ftparchive and aptly may keep
// Architecture: all packages there only). A missing index is an error.
func (r *Release) Indexes(components, archs []string) ([]Index, error) {
	var out []Index
	for _, c := range components {
		for _, a := range archs {
			ix, ok := r.index(c, a)
			if !ok {
				return nil, fmt.Errorf("%s lists no %s/binary-%s/Packages index with a SHA256", r.Path, c, a)
			}
			out = append(out, ix)
		}
		if !slices.Contains(archs, apt.ArchAll) {
			if ix, ok := r.index(c, apt.ArchAll); ok {
				out = append(out, ix)
			}
		}
	}
	return out, nil
}

func (r *Release) index(component, arch string) (Index, bool) {
	base := component + "/binary-" + arch + "/Packages"
	for _, ext := range indexVariants {
		i, found := slices.BinarySearchFunc(r.Files, base+ext, func(f apt.IndexFile, p string) int {
			return strings.Compare(f.Path, p)
		})
		if found && r.Files[i].SHA256 != "" {
			return Index{Component: component, Arch: arch, File: r.Files[i]}, true
		}
	}
	return Index{}, false
}
