package store

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// ReleaseSettings is what a release update changes; nil or empty means
// unchanged. Components and architectures change by additions and removals,
// so that two pending updates both take effect.
type ReleaseSettings struct {
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
	// ValidFor in seconds; 0 removes Valid-Until.
	ValidFor             *int64  `json:"valid_for,omitempty"`
	NotAutomatic         *bool   `json:"not_automatic,omitempty"`
	ButAutomaticUpgrades *bool   `json:"but_automatic_upgrades,omitempty"`
	SignedBy             *string `json:"signed_by,omitempty"`
	// KeepVersions is the retention from the round that publishes the
	// update on (0 keeps all versions).
	KeepVersions *int `json:"keep_versions,omitempty"`
	// Contents turns the Contents indices on or off from this round on.
	Contents *bool `json:"contents,omitempty"`
}

// ErrReleaseDeleting refuses a change to a release whose delete was requested.
var ErrReleaseDeleting = &Error{Code: CodeDeleting, Message: "the release is being deleted"}

// Apply returns r with the settings applied.
func (s ReleaseSettings) Apply(r Release) Release {
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&r.Origin, s.Origin}, {&r.Label, s.Label}, {&r.Suite, s.Suite}, {&r.Codename, s.Codename},
		{&r.Version, s.Version}, {&r.Description, s.Description}, {&r.SignedBy, s.SignedBy}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	r.Components = editList(r.Components, s.AddComponents, s.RemoveComponents)
	r.Architectures = editList(r.Architectures, s.AddArchitectures, s.RemoveArchitectures)
	if s.Compressions != nil {
		r.Compressions = slices.Clone(s.Compressions)
	}
	if s.ValidFor != nil {
		r.ValidFor = nil
		if *s.ValidFor > 0 {
			d := time.Duration(*s.ValidFor) * time.Second
			r.ValidFor = &d
		}
	}
	if s.NotAutomatic != nil {
		r.NotAutomatic = *s.NotAutomatic
	}
	if s.ButAutomaticUpgrades != nil {
		r.ButAutomaticUpgrades = *s.ButAutomaticUpgrades
	}
	if s.KeepVersions != nil {
		r.KeepVersions = *s.KeepVersions
	}
	if s.Contents != nil {
		r.Contents = *s.Contents
	}
	return r
}

// editList removes, then appends what it lacks, keeping the order.
func editList(list, add, remove []string) []string {
	out := make([]string, 0, len(list)+len(add))
	for _, x := range list {
		if !slices.Contains(remove, x) {
			out = append(out, x)
		}
	}
	for _, x := range add {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// WithSettings returns the release as the changes' settings leave it, in
// order: what a round of these changes publishes.
func WithSettings(r Release, changes []Change) Release {
	for _, c := range changes {
		if c.Settings != nil {
			r = c.Settings.Apply(r)
		}
	}
	return r
}

// SetChangeSettings records what a release update changes; run it in the
// transaction that inserts the change.
func (s *Store) SetChangeSettings(ctx context.Context, db DBTX, changeID int64, settings ReleaseSettings) error {
	b, _ := json.Marshal(settings)
	_, err := db.Exec(ctx, `UPDATE changes SET settings = $2 WHERE id = $1`, changeID, b)
	return translate("set change settings", err)
}

// Holdings counts, per component and per architecture of the release, the
// packages it holds now or a pending change adds, so that an update removes
// only empty ones. An Architecture: all package counts for no architecture.
func (s *Store) Holdings(ctx context.Context, releaseID int64) (components, architectures map[string]int64, err error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT rp.component, p.architecture, count(*) FROM release_packages rp JOIN packages p ON p.id = rp.package_id
		WHERE rp.release_id = $1 GROUP BY 1, 2
		UNION ALL
		SELECT a.component, a.architecture, count(*)
		FROM changes c, jsonb_to_recordset(c.adds) AS a(component text, architecture text)
		WHERE c.release_id = $1 AND c.state IN ('pending', 'in_round') GROUP BY 1, 2`, releaseID)
	if err != nil {
		return nil, nil, translate("release holdings", err)
	}
	defer rows.Close()
	components, architectures = map[string]int64{}, map[string]int64{}
	for rows.Next() {
		var comp, arch string
		var n int64
		if err := rows.Scan(&comp, &arch, &n); err != nil {
			return nil, nil, translate("release holdings", err)
		}
		components[comp] += n
		architectures[arch] += n
	}
	return components, architectures, translate("release holdings", rows.Err())
}

// settingsStatement is the commit's write of the release's settings as the
// round's changes leave them; nil when none of them is an update.
func settingsStatement(ctx context.Context, db DBTX, releaseID int64, changes []Change) (*statement, error) {
	if !slices.ContainsFunc(changes, func(c Change) bool { return c.Settings != nil }) {
		return nil, nil
	}
	cur, err := scanRelease(db.QueryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE id = $1 FOR UPDATE`, releaseID))
	if err != nil {
		return nil, translate("read release settings", err)
	}
	r := WithSettings(cur, changes)
	return &statement{Name: "apply release update", Rows: 1, SQL: `
		UPDATE releases SET origin = $2, label = $3, suite = $4, codename = $5, version = $6, description = $7,
			components = $8, architectures = $9, compressions = $10, valid_for = $11, not_automatic = $12,
			but_automatic_upgrades = $13, signed_by = $14, keep_versions = $15, contents = $16
		WHERE id = $1`, Args: []any{releaseID, r.Origin, r.Label, r.Suite, r.Codename, r.Version, r.Description,
		r.Components, r.Architectures, r.Compressions, r.ValidFor, r.NotAutomatic, r.ButAutomaticUpgrades, r.SignedBy,
		r.KeepVersions, r.Contents}}, nil
}

// UnpublishedUpdates lists the release's updates not committed yet
// (pending or in an open round), in the order they apply.
func (s *Store) UnpublishedUpdates(ctx context.Context, releaseID int64) ([]Change, error) {
	return s.queryChanges(ctx, s.Pool, `SELECT `+changeColumns+` FROM changes
		WHERE release_id = $1 AND state IN ('pending', 'in_round') AND settings IS NOT NULL ORDER BY id`, releaseID)
}
