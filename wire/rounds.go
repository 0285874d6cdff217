package wire

// SignatureRequest carries the signatures of a round's Release.
type SignatureRequest struct {
	Generation int64 `json:"generation"`
	// InRelease is Release clearsigned; ReleaseGPG a detached armored signature of it.
	InRelease  string `json:"inrelease"`
	ReleaseGPG string `json:"release_gpg"`
}

// SignatureResult is the server's answer to an accepted signature.
type SignatureResult struct {
	Generation int64    `json:"generation"`
	RoundID    int64    `json:"round_id"`
	Signers    []string `json:"signers"`
	State      string   `json:"state"`
}

// RoundView is everything a signer checks before it signs a round (G9).
type RoundView struct {
	ID         int64  `json:"id"`
	Generation int64  `json:"generation"`
	State      string `json:"state"`
	Repo       string `json:"repo"`
	Release    string `json:"release"`
	// URL is where apt clients read the repository (GET URL/dists/...).
	URL string `json:"url"`
	// ReleaseBytes is the exact Release to sign.
	ReleaseBytes string `json:"release_bytes"`
	// PreviousGeneration is Generation-1; PreviousInRelease is its InRelease
	// as committed, empty for a round of generation 1.
	PreviousGeneration int64         `json:"previous_generation"`
	PreviousInRelease  string        `json:"previous_inrelease"`
	Changes            []RoundChange `json:"changes"`
	// KeepVersions is the release's retention the round applied; Retention
	// what it removes after the changes (the signer checks each leaves
	// KeepVersions newer versions).
	KeepVersions int      `json:"keep_versions"`
	Retention    []Remove `json:"retention"`
}

// RoundChange is one change of a round and the token that submitted it.
type RoundChange struct {
	ID        int64      `json:"id"`
	JobID     int64      `json:"job_id"`
	TokenID   *int64     `json:"token_id"`
	TokenName string     `json:"token_name"`
	Adds      []RoundAdd `json:"adds"`
	Removes   []Remove   `json:"removes"`
	// Update is what a release update changes (nil: packages only).
	Update *RoundUpdate `json:"update,omitempty"`
}

// RoundUpdate is what a release update does to the Release: each field of
// Fields set to its value ("" drops it), components and architectures
// added and removed; Compressions show in the file lists only; ValidFor is
// Valid-Until - Date from this round on (a Go duration, or "none"), and
// KeepVersions the retention (Aptq-Keep-Versions; 0 keeps all).
type RoundUpdate struct {
	Fields              map[string]string `json:"fields"`
	AddComponents       []string          `json:"add_components,omitempty"`
	RemoveComponents    []string          `json:"remove_components,omitempty"`
	AddArchitectures    []string          `json:"add_architectures,omitempty"`
	RemoveArchitectures []string          `json:"remove_architectures,omitempty"`
	Compressions        []string          `json:"compressions,omitempty"`
	ValidFor            string            `json:"valid_for,omitempty"`
	KeepVersions        *int              `json:"keep_versions,omitempty"`
	// Contents, if set, turns the Contents indices on or off.
	Contents *bool `json:"contents,omitempty"`
}

// RoundAdd is a package a change adds, with what its index stanza is
// rendered from.
type RoundAdd struct {
	SHA256       string `json:"sha256"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Component    string `json:"component"`
	Filename     string `json:"filename"`
	Size         int64  `json:"size"`
	MD5          string `json:"md5"`
	SHA1         string `json:"sha1"`
	SHA512       string `json:"sha512"`
	// Control is the control paragraph as uploaded.
	Control string `json:"control"`
	// Files is the package's file list, which the release's Contents
	// indices list; null unless the release has Contents on.
	Files []string `json:"files"`
}
