package apt

import (
	"fmt"
	"strings"
)

// Changes is a parsed .changes file: what dpkg-genchanges writes for an
// upload (dput, dupload) and what it lists.
type Changes struct {
	Source, Version string
	// Distribution is what the uploader named; aptq publishes to the
	// release the user chooses, and only warns when they differ.
	Distribution string
	Paragraph    Paragraph
	// Files are the files it lists, in the order of its Files field.
	Files []SourceFile
	// Signed says the .changes was clearsigned (not checked here: the
	// signature is the maintainer's, kept for operators).
	Signed bool
}

// ParseChanges parses a .changes, clearsigned or not. Format, Source,
// Version, Distribution, Files and Checksums-Sha256 are required; the file
// lists must agree (as in a .dsc) and every name must be a plain file name.
// Errors wrap ErrInvalidSource.
func ParseChanges(data []byte) (*Changes, error) {
	c, err := parseChanges(data)
	if err != nil {
		return nil, fmt.Errorf("%w: .changes: %w", ErrInvalidSource, err)
	}
	return c, nil
}

func parseChanges(data []byte) (*Changes, error) {
	p, signed, err := parseSigned(data)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"Format", "Source", "Version", "Distribution"} {
		if p.Get(f) == "" {
			return nil, fmt.Errorf("no %s field", f)
		}
	}
	c := &Changes{Version: p.Get("Version"), Distribution: p.Get("Distribution"), Paragraph: p, Signed: signed}
	// Source may carry the source version: "name (version)".
	if c.Source, err = sourceName(p.Get("Source")); err != nil {
		return nil, fmt.Errorf("bad Source field: %w", err)
	}
	if _, err := parseVersion(c.Version); err != nil {
		return nil, fmt.Errorf("bad Version field %q: %w", truncate(c.Version), err)
	}
	if strings.ContainsAny(c.Distribution, "/") || len(c.Distribution) > maxPackageName {
		return nil, fmt.Errorf("bad Distribution field %q", truncate(c.Distribution))
	}
	// Files lines carry section and priority before the name.
	if c.Files, err = parseFileLists(p, CheckFileName, 2); err != nil {
		return nil, err
	}
	return c, nil
}
