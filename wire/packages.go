package wire

import (
	"encoding/json"
	"fmt"
	"time"
)

// Package is an uploaded .deb, content-addressed by SHA-256.
type Package struct {
	SHA256       string `json:"sha256"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Source       string `json:"source"`
	Size         int64  `json:"size"`
}

// ChangeRequest asks for packages to be added to and removed from a release.
type ChangeRequest struct {
	Adds    []Add    `json:"adds,omitempty"`
	Removes []Remove `json:"removes,omitempty"`
	// ChangesFile, if set, is the SHA-256 of a .changes this tenant
	// uploaded (PUT /v1/files) that the change publishes: the audit log
	// records it, so operators can find the maintainer's signed upload.
	ChangesFile string `json:"changes_file,omitempty"`
}

// Add puts an uploaded package into a component.
type Add struct {
	SHA256    string `json:"sha256"`
	Component string `json:"component"`
}

// Remove takes a package out of a component.
type Remove struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Component    string `json:"component"`
}

// RollbackRequest republishes the membership of an earlier generation.
type RollbackRequest struct {
	Generation int64 `json:"generation"`
}

// Generation is one committed generation of a release.
type Generation struct {
	Generation int64 `json:"generation"`
	// Date is the Date field of the generation's Release.
	Date    time.Time `json:"date"`
	RoundID int64     `json:"round_id"`
	// Changes is how many changes the round published; Adds and Removes how
	// many package edits they held. A resign has none of either.
	Changes int `json:"changes"`
	Adds    int `json:"adds"`
	Removes int `json:"removes"`
	// Signers are the fingerprints of the registered keys that signed it.
	Signers []string `json:"signers"`
	// PublishedAt is when InRelease reached S3; nil while committed only.
	PublishedAt *time.Time `json:"published_at,omitempty"`
	// Submitters are the tokens whose changes it published; SignedBy the
	// token whose signature was accepted (nil when not recorded).
	Submitters []TokenRef `json:"submitters"`
	SignedBy   *TokenRef  `json:"signed_by,omitempty"`
	// Retention is what the release's retention removed in the generation.
	Retention []Remove `json:"retention"`
}

// UnmarshalJSON reads Date as RFC 3339 or, should the server pass the
// Release's own field through, in its RFC 1123 form ("Sat, 01 Feb 2025
// 10:00:00 UTC"), so that a history listing never fails on a date format.
func (g *Generation) UnmarshalJSON(data []byte) error {
	type plain Generation
	var raw struct {
		plain
		Date string `json:"date"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*g = Generation(raw.plain)
	if raw.Date == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC1123Z, time.RFC1123} {
		if t, err := time.Parse(layout, raw.Date); err == nil {
			g.Date = t
			return nil
		}
	}
	return fmt.Errorf("generation %d: unreadable date %q", g.Generation, raw.Date)
}

// History is a release's committed generations, newest first.
type History struct {
	Generations []Generation `json:"generations"`
}

// ReleasePackage is a package in a release's last committed generation.
type ReleasePackage struct {
	Component    string `json:"component"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	// Filename is the pool path, relative to the repository URL.
	Filename string `json:"filename"`
	// Control is the package's control stanza as the Packages index has it.
	Control string `json:"control"`
	// FileCount is the number of files the package's data.tar holds, which
	// the Contents indices list (nil: not known).
	FileCount *int `json:"file_count,omitempty"`
}

// ReleasePackageList is the membership of a release's last committed
// generation, sorted by name, version and architecture.
type ReleasePackageList struct {
	Packages []ReleasePackage `json:"packages"`
}
