package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// RemoveKey unregisters a public key from a repository. The server keeps at
// least one key on every repository: removing the last one is refused with
// an *APIError of code last_key (HTTP 409).
func (c *Client) RemoveKey(ctx context.Context, repo, fingerprint string) error {
	return c.doJSON(ctx, http.MethodDelete, repoPath(repo)+"/keys/"+url.PathEscape(fingerprint), nil, nil)
}

// Resign asks for a round with no package change: it publishes a new
// generation with the same indexes, a new Date (and Valid-Until) and fresh
// signatures, for expiry refresh and key rotation. Follow the job as for
// SubmitChange.
//
// Like SubmitChange it is retried after a transient failure, so a lost answer
// may enqueue a second resign; that costs one more generation, nothing else.
func (c *Client) Resign(ctx context.Context, repo, release string) (JobRef, error) {
	var ref JobRef
	err := c.doJSON(ctx, http.MethodPost, releasePath(repo, release)+"/resign", struct{}{}, &ref)
	return ref, err
}

// Rollback asks for the membership of a committed generation of the release
// to be published again, as a new generation. A generation the release never
// committed is refused with an *APIError of code invalid (details field
// "generation"). A retried request rolls back to the same membership twice,
// which publishes the same content.
func (c *Client) Rollback(ctx context.Context, repo, release string, generation int64) (JobRef, error) {
	var ref JobRef
	err := c.doJSON(ctx, http.MethodPost, releasePath(repo, release)+"/rollback", struct {
		Generation int64 `json:"generation"`
	}{generation}, &ref)
	return ref, err
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
	Submitters []TokenRef `json:"submitters,omitempty"`
	SignedBy   *TokenRef  `json:"signed_by,omitempty"`
	// Retention is what the release's retention removed in the generation.
	Retention []Remove `json:"retention,omitempty"`
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

// History lists a release's committed generations, newest first; limit 0
// leaves the number to the server (50).
func (c *Client) History(ctx context.Context, repo, release string, limit int) ([]Generation, error) {
	cl := call{method: http.MethodGet, path: releasePath(repo, release) + "/history", timeout: c.requestTimeout}
	if limit > 0 {
		cl.query = url.Values{"limit": {strconv.Itoa(limit)}}
	}
	var out struct {
		Generations []Generation `json:"generations"`
	}
	err := c.do(ctx, cl, &out)
	return out.Generations, err
}

// PackageFilter narrows ListReleasePackages; empty fields match everything.
type PackageFilter struct {
	Component    string
	Name         string
	Architecture string
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
	// FileCount is the number of files of its data.tar (nil: not known).
	FileCount *int `json:"file_count,omitempty"`
}

// ListReleasePackages lists the membership of the release's last committed
// generation, sorted by name, version and architecture.
func (c *Client) ListReleasePackages(ctx context.Context, repo, release string, f PackageFilter) ([]ReleasePackage, error) {
	cl := call{method: http.MethodGet, path: releasePath(repo, release) + "/packages", timeout: c.requestTimeout}
	q := url.Values{}
	for k, v := range map[string]string{"component": f.Component, "name": f.Name, "architecture": f.Architecture} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) > 0 {
		cl.query = q
	}
	var out struct {
		Packages []ReleasePackage `json:"packages"`
	}
	err := c.do(ctx, cl, &out)
	return out.Packages, err
}
