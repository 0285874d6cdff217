package wire

import "time"

// ReleaseRequest creates a release. Empty fields take the server's defaults:
// suite = codename = name, origin = label = repository name, components
// ["main"], architectures ["amd64"], compressions ["gz","xz"].
type ReleaseRequest struct {
	Name          string   `json:"name"`
	Origin        string   `json:"origin,omitempty"`
	Label         string   `json:"label,omitempty"`
	Suite         string   `json:"suite,omitempty"`
	Codename      string   `json:"codename,omitempty"`
	Version       string   `json:"version,omitempty"`
	Description   string   `json:"description,omitempty"`
	Components    []string `json:"components,omitempty"`
	Architectures []string `json:"architectures,omitempty"`
	Compressions  []string `json:"compressions,omitempty"`
	// ValidFor, when set (e.g. "7d", "36h"; at least 1h), makes every Release
	// carry Valid-Until: Date + ValidFor. Refresh it in time with a resign.
	ValidFor string `json:"valid_for,omitempty"`
	// KeepVersions, when positive, keeps only the newest KeepVersions
	// versions (dpkg order) of each package name and architecture in a
	// component: every round removes older ones.
	KeepVersions int `json:"keep_versions,omitempty"`
	// NotAutomatic and ButAutomaticUpgrades write those Release options
	// (backports-style suites); SignedBy writes Signed-By (fingerprints).
	NotAutomatic         bool   `json:"not_automatic,omitempty"`
	ButAutomaticUpgrades bool   `json:"but_automatic_upgrades,omitempty"`
	SignedBy             string `json:"signed_by,omitempty"`
	// Contents, if set, says whether the release publishes
	// <component>/Contents-<arch> indices (nil: the default, on).
	Contents *bool `json:"contents,omitempty"`
}

// Release is a distribution (dists/<name>) of a repository.
type Release struct {
	Name          string   `json:"name"`
	Origin        string   `json:"origin"`
	Label         string   `json:"label"`
	Suite         string   `json:"suite"`
	Codename      string   `json:"codename"`
	Version       string   `json:"version,omitempty"`
	Description   string   `json:"description"`
	Components    []string `json:"components"`
	Architectures []string `json:"architectures"`
	Compressions  []string `json:"compressions"`
	// ValidFor is how long each Release is valid (a Go duration, e.g.
	// "168h0m0s"); empty when Release carries no Valid-Until.
	ValidFor string `json:"valid_for,omitempty"`
	// KeepVersions is the retention (0: keep all versions).
	KeepVersions         int    `json:"keep_versions"`
	NotAutomatic         bool   `json:"not_automatic"`
	ButAutomaticUpgrades bool   `json:"but_automatic_upgrades"`
	SignedBy             string `json:"signed_by,omitempty"`
	// Contents says whether it publishes <component>/Contents-<arch>.gz.
	Contents bool `json:"contents"`
	// Deleting is true once a delete was requested.
	Deleting bool `json:"deleting,omitempty"`
	// Generation is the newest committed index; PublishedGeneration the
	// newest one that reached S3.
	Generation          int64     `json:"generation"`
	PublishedGeneration int64     `json:"published_generation"`
	CreatedAt           time.Time `json:"created_at"`
}

// ReleaseList is a repository's releases.
type ReleaseList struct {
	Releases []Release `json:"releases"`
}

// ReleaseUpdate changes a release; an absent (nil or empty) field is
// unchanged.
type ReleaseUpdate struct {
	Origin              *string  `json:"origin,omitempty"`
	Label               *string  `json:"label,omitempty"`
	Suite               *string  `json:"suite,omitempty"`
	Codename            *string  `json:"codename,omitempty"`
	Version             *string  `json:"version,omitempty"`
	Description         *string  `json:"description,omitempty"`
	AddComponents       []string `json:"add_components,omitempty"`
	RemoveComponents    []string `json:"remove_components,omitempty"`
	AddArchitectures    []string `json:"add_architectures,omitempty"`
	RemoveArchitectures []string `json:"remove_architectures,omitempty"`
	Compressions        []string `json:"compressions,omitempty"`
	// ValidFor is a duration (e.g. "7d") or "none" to drop Valid-Until.
	ValidFor             *string `json:"valid_for,omitempty"`
	NotAutomatic         *bool   `json:"not_automatic,omitempty"`
	ButAutomaticUpgrades *bool   `json:"but_automatic_upgrades,omitempty"`
	// SignedBy is fingerprints, or "" to drop Signed-By.
	SignedBy *string `json:"signed_by,omitempty"`
	// KeepVersions is the retention (0 keeps all versions).
	KeepVersions *int `json:"keep_versions,omitempty"`
	// Contents turns the Contents-<arch> indices on or off.
	Contents *bool `json:"contents,omitempty"`
}

// ReleaseUpdateResult says whether an update changes anything; if so, its
// change and job publish it like any other (follow and sign the job).
type ReleaseUpdateResult struct {
	Changed  bool  `json:"changed"`
	JobID    int64 `json:"job_id,omitempty"`
	ChangeID int64 `json:"change_id,omitempty"`
}

// JobRef is the submitted change (zero when nothing changed).
func (r ReleaseUpdateResult) JobRef() JobRef {
	return JobRef{JobID: r.JobID, ChangeID: r.ChangeID}
}
