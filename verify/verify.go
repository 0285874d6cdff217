// Package verify is what a signer runs before it signs a round (DESIGN G9):
// it checks that the Release it is asked to sign is the previous signed
// generation plus exactly the round's listed changes, fetching by hash what
// changed. It trusts nothing the server says but what the previous InRelease,
// signed with one of the signer's own keys, lists; the changes the server
// lists are what it prints for the user and what the new indexes must hold.
//
// For each index the new Release lists, an entry that equals the previous
// one needs no fetch. A changed index is rebuilt here: the previous
// Packages (fetched by the hash the previous Release gives) with the
// round's changes applied by the worker's own code (apt.Index.Apply, the
// stanzas rendered by apt from the uploaded control paragraphs), and the
// listed Packages, Packages.gz and Packages.xz must be exactly that.
package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

// Round is a round as the server describes it (GET /v1/rounds/{id}).
type Round struct {
	ID, Generation int64
	// Release is the exact Release to sign.
	Release []byte
	// PreviousInRelease is generation Generation-1 as committed; empty
	// only for generation 1.
	PreviousInRelease []byte
	Changes           []Change
	// KeepVersions is the release's retention the round applied (it must
	// be the Release's Aptq-Keep-Versions), and Retention what it
	// removed, after the changes.
	KeepVersions int
	Retention    []Remove
}

// Change is one change of a round, in the order the worker applies them.
type Change struct {
	ID, JobID int64
	// TokenName names the token that submitted it ("" when unknown).
	TokenName string
	Adds      []Add
	Removes   []Remove
	// Update is what a release update changes (nil: packages only).
	Update *Update
}

// Update is a change of the release itself: each field of Fields set to
// its value ("" drops it) and components and architectures added and
// removed, in this order. The new Release may differ from the previous
// one in exactly what the round's updates list.
type Update struct {
	Fields                                map[string]string
	AddComponents, RemoveComponents       []string
	AddArchitectures, RemoveArchitectures []string
	// ValidFor, if set, is Valid-Until - Date from this round on (0: no
	// Valid-Until).
	ValidFor *time.Duration
	// KeepVersions, if set, is the retention from this round on
	// (Aptq-Keep-Versions; 0 keeps all versions and drops the field).
	KeepVersions *int
	// Contents, if set, turns the Contents indices on or off: on, a new
	// Contents index lists the release's existing packages, whose file
	// lists the signer cannot know (it checks the round's additions only);
	// off, the Contents indices may go.
	Contents *bool
}

// Add is a package a change adds: what its stanza is rendered from.
type Add struct {
	SHA256, Name, Version, Architecture, Component, Filename string
	Size                                                     int64
	MD5, SHA1, SHA512                                        string
	Control                                                  string // as uploaded
	// Files is the package's file list as the server gives it (nil: none
	// given), which Contents indices must list.
	Files []string
}

// Remove is a package a change removes.
type Remove struct{ Name, Version, Architecture, Component string }

// ErrNotFound is what a Fetcher returns (wrapped) for a missing object.
var ErrNotFound = errors.New("not found")

// Fetcher reads the release's by-hash objects through the public read path.
type Fetcher interface {
	// ByHash returns dists/<release>/<dir>/by-hash/SHA256/<sum>, reading
	// no more than maxSize bytes (more is an error).
	ByHash(ctx context.Context, dir, sum string, maxSize int64) ([]byte, error)
}

// Config is what the signer knows for itself.
type Config struct {
	// PublicKeys are the signer's own public keys (armored): the previous
	// generation must be signed by one of them.
	PublicKeys [][]byte
	// AcceptFrom, if not empty, names the only tokens whose changes may
	// be in the round.
	AcceptFrom []string
	// OwnChange is the change the signer follows (0: none): the round
	// must hold it.
	OwnChange int64
	// OwnAdds maps each of the signer's own changes to the packages it
	// uploaded for it, which that change must add exactly when it is in the
	// round. A CLI that publishes many files submits several changes, and
	// any of them may share the round it signs.
	OwnAdds map[int64][]string
	// OwnSources maps the SHA-256 of each .dsc the signer uploaded to the
	// Sources stanza it computed from it (apt.SourceControl): a round that
	// adds that .dsc must carry exactly that stanza, so that a server
	// cannot list other files (another orig tarball) under the signer's
	// source.
	OwnSources map[string]string
	// OwnFiles maps the SHA-256 of each package the signer uploaded to the
	// file list it read from the .deb: where the round adds it, the file
	// list the server gives must be this one.
	OwnFiles map[string][]string
	// Now is the signer's clock, which the Release's Date must be close to
	// (see MaxDateAhead and MaxDateAge); it must be set.
	Now time.Time
}

// Check returns nil when r's Release may be signed, else an error that
// says what does not add up.
func Check(ctx context.Context, cfg Config, r Round, f Fetcher) error {
	if err := checkChanges(cfg, r); err != nil {
		return err
	}
	next, err := apt.ParseRelease(r.Release)
	if err != nil {
		return fmt.Errorf("the Release to sign: %w", err)
	}
	if next.Meta.Generation != r.Generation {
		return fmt.Errorf("the Release to sign says Aptq-Generation %d, the round is generation %d", next.Meta.Generation, r.Generation)
	}
	// The retention in force is the signed one (checked against the
	// previous generation and the listed updates by checkFields), not what
	// the server says beside it.
	if next.Meta.KeepVersions != r.KeepVersions {
		return fmt.Errorf("the round applies keep_versions %d, but the Release to sign says Aptq-Keep-Versions %d",
			r.KeepVersions, next.Meta.KeepVersions)
	}
	if err := checkPlaces(next, r.Changes); err != nil {
		return err
	}
	prev, err := previous(cfg, r)
	if err != nil {
		return err
	}
	if err := checkDates(cfg.Now, prev, next, r.Changes); err != nil {
		return err
	}
	if err := checkFields(prev, next, r.Changes); err != nil {
		return err
	}
	ret, err := newRetention(r, next)
	if err != nil {
		return err
	}
	changes := withOwnFiles(r.Changes, cfg.OwnFiles)
	if len(r.Retention) > 0 {
		changes = append(slices.Clone(changes), Change{Removes: r.Retention})
	}
	edits, err := foldEdits(changes)
	if err != nil {
		return err
	}
	if err := checkSources(ctx, prev, next, changes, f); err != nil {
		return err
	}
	prevRest, prevContents, err := splitContents(prev)
	if err != nil {
		return fmt.Errorf("generation %d: %w", prev.Meta.Generation, err)
	}
	nextRest, nextContents, err := splitContents(next)
	if err != nil {
		return fmt.Errorf("the Release to sign: %w", err)
	}
	if err := checkIndexes(ctx, prevRest, nextRest, edits, ret, f); err != nil {
		return err
	}
	return checkContents(ctx, prevContents, nextContents, changes, f)
}

// checkChanges applies --accept-from and checks the signer's own change.
func checkChanges(cfg Config, r Round) error {
	own := false
	for _, c := range r.Changes {
		if len(cfg.AcceptFrom) > 0 && !slices.Contains(cfg.AcceptFrom, c.TokenName) {
			who := c.TokenName
			if who == "" {
				who = "no known token"
			}
			return fmt.Errorf("change %d (job %d) was submitted by %s, which --accept-from does not name (%s)",
				c.ID, c.JobID, who, strings.Join(cfg.AcceptFrom, ", "))
		}
		if c.ID == cfg.OwnChange {
			own = true
		}
		if err := checkOwnSources(cfg, c); err != nil {
			return err
		}
		for _, a := range c.Adds {
			if files, ok := cfg.OwnFiles[a.SHA256]; ok && a.Files != nil && !slices.Equal(a.Files, files) {
				return fmt.Errorf("change %d adds %s %s %s with a file list other than the one its .deb holds",
					c.ID, a.Name, a.Version, a.Architecture)
			}
		}
		uploaded, ok := cfg.OwnAdds[c.ID]
		if !ok {
			continue
		}
		var got []string
		for _, a := range c.Adds {
			got = append(got, a.SHA256)
		}
		want := slices.Clone(uploaded)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("this CLI's change %d adds packages %s in the round, but it uploaded %s",
				c.ID, strings.Join(got, ", "), strings.Join(want, ", "))
		}
	}
	if cfg.OwnChange != 0 && !own {
		return fmt.Errorf("this CLI's change %d is not among the round's changes", cfg.OwnChange)
	}
	return nil
}

// previous verifies the previous generation's InRelease with the signer's
// keys and parses it; nil for the first generation of a new release.
func previous(cfg Config, r Round) (*apt.Release, error) {
	if len(r.PreviousInRelease) == 0 {
		if r.Generation != 1 {
			return nil, fmt.Errorf("the server gave no InRelease for generation %d, which the round builds on", r.Generation-1)
		}
		return nil, nil
	}
	text, _, err := sign.VerifyClearsigned(r.PreviousInRelease, cfg.PublicKeys)
	if errors.Is(err, sign.ErrUnknownKey) {
		return nil, fmt.Errorf("generation %d is not signed by any key this CLI signs with (%v); after a key "+
			"rotation, sign once with the old and the new key together (--key old.asc --key new.asc), "+
			"or check the repository yourself and sign this round with --no-verify", r.Generation-1, err)
	}
	if err != nil {
		return nil, fmt.Errorf("generation %d's InRelease: %w", r.Generation-1, err)
	}
	prev, err := apt.ParseRelease(text)
	if err != nil {
		return nil, fmt.Errorf("generation %d's InRelease: %w", r.Generation-1, err)
	}
	if prev.Meta.Generation != r.Generation-1 {
		return nil, fmt.Errorf("the previous InRelease is generation %d, the round builds on generation %d",
			prev.Meta.Generation, r.Generation-1)
	}
	return prev, nil
}
