package wire

import "time"

// RepoRequest creates a repository.
type RepoRequest struct {
	Name string `json:"name"`
}

// Repo is a tenant's APT repository.
type Repo struct {
	Name string `json:"name"`
	// URL is where apt clients read the repository (the base of a sources.list line).
	URL       string    `json:"url"`
	Keys      []Key     `json:"keys"`
	Releases  []Release `json:"releases"`
	CreatedAt time.Time `json:"created_at"`
	// Quota is only in GET /v1/repos/{repo}.
	Quota *Quota `json:"quota,omitempty"`
}

// RepoList is the tenant's repositories (those its token may use).
type RepoList struct {
	Repos []Repo `json:"repos"`
}

// Quota is a repository's quota use: packages is per repository,
// upload_bytes per tenant (every upload of the tenant counts once).
type Quota struct {
	Packages       int64 `json:"packages"`
	MaxPackages    int64 `json:"max_packages"`
	UploadBytes    int64 `json:"upload_bytes"`
	MaxUploadBytes int64 `json:"max_upload_bytes"`
}

// KeyRequest registers an armored OpenPGP public key.
type KeyRequest struct {
	Armored string `json:"armored"`
}

// Key is a public signing key registered on a repository.
type Key struct {
	Fingerprint string   `json:"fingerprint"`
	UserIDs     []string `json:"user_ids"`
	// Armored is the public key; only GET of one key fills it.
	Armored string `json:"armored,omitempty"`
	// Revoked: the registered copy carries a revocation; its signatures are refused.
	Revoked   bool      `json:"revoked,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// KeyList is the keys registered on a repository.
type KeyList struct {
	Keys []Key `json:"keys"`
}
