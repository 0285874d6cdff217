package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// RoundView is what a signer checks before signing a round: see GetRound.
type RoundView struct {
	ID         int64  `json:"id"`
	Generation int64  `json:"generation"`
	State      string `json:"state"`
	Repo       string `json:"repo"`
	Release    string `json:"release"`
	// URL is where apt clients read the repository.
	URL string `json:"url"`
	// ReleaseBytes is the exact Release to sign.
	ReleaseBytes string `json:"release_bytes"`
	// PreviousInRelease is generation PreviousGeneration's InRelease as
	// committed; empty for generation 1.
	PreviousGeneration int64         `json:"previous_generation"`
	PreviousInRelease  string        `json:"previous_inrelease"`
	Changes            []RoundChange `json:"changes"`
	// KeepVersions is the retention the round applied, Retention what it
	// removed beside the changes.
	KeepVersions int           `json:"keep_versions"`
	Retention    []RoundRemove `json:"retention"`
}

// RoundChange is one change of a round and the token that submitted it.
type RoundChange struct {
	ID        int64         `json:"id"`
	JobID     int64         `json:"job_id"`
	TokenID   *int64        `json:"token_id"`
	TokenName string        `json:"token_name"`
	Adds      []RoundAdd    `json:"adds"`
	Removes   []RoundRemove `json:"removes"`
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
	Contents            *bool             `json:"contents,omitempty"`
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
	Control      string `json:"control"`
	// Files is the package's file list, given for a release with Contents on.
	Files []string `json:"files"`
}

// RoundRemove is a package a change removes.
type RoundRemove = Remove

// GetRound returns a round of one of the tenant's repositories with
// everything a signer checks before signing it.
func (c *Client) GetRound(ctx context.Context, id int64) (RoundView, error) {
	var v RoundView
	err := c.doJSON(ctx, http.MethodGet, "/v1/rounds/"+strconv.FormatInt(id, 10), nil, &v)
	return v, err
}

// FetchRepoFile reads a file of a repository through the server's public
// read path: repoURL is a URL such as RoundView.URL, of which only the path
// is used, so the read goes to this client's server; rel is relative to the
// repository root. A missing file is an *APIError with code not_found; a
// body over maxSize bytes is an error.
func (c *Client) FetchRepoFile(ctx context.Context, repoURL, rel string, maxSize int64) ([]byte, error) {
	u, err := url.Parse(repoURL)
	if err != nil || !strings.HasPrefix(u.Path, "/apt/") {
		return nil, fmt.Errorf("repository URL %q is not under /apt/", repoURL)
	}
	var data []byte
	err = c.do(ctx, call{method: http.MethodGet, path: strings.TrimRight(u.Path, "/") + "/" + rel,
		timeout: c.requestTimeout, raw: &data, maxBody: maxSize}, nil)
	return data, err
}
