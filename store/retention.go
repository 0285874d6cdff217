package store

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"

	"github.com/aptq/aptq/apt"
)

// RetentionDrops returns the packages that keeping only the keep newest
// versions of each (component, name, architecture) of pkgs leaves out,
// newest by dpkg version order (versions dpkg holds equal are ordered by
// their text, so the choice does not depend on the input's order). keep 0
// keeps everything. The result is sorted by component, name, architecture
// and version, newest first.
func RetentionDrops(pkgs []ChangeRemove, keep int) []ChangeRemove {
	if keep <= 0 {
		return nil
	}
	sorted := slices.Clone(pkgs)
	slices.SortFunc(sorted, func(a, b ChangeRemove) int {
		return cmp.Or(cmp.Compare(a.Component, b.Component), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Architecture, b.Architecture), -apt.CompareVersions(a.Version, b.Version),
			-cmp.Compare(a.Version, b.Version))
	})
	sorted = slices.Compact(sorted)
	var out []ChangeRemove
	n := 0
	for i, p := range sorted {
		if i == 0 || p.Component != sorted[i-1].Component || p.Name != sorted[i-1].Name || p.Architecture != sorted[i-1].Architecture {
			n = 0
		}
		if n++; n > keep {
			out = append(out, p)
		}
	}
	return out
}

// RetentionCandidates lists, as (component, name, version, architecture),
// the release's committed members in each group (component, name,
// architecture) that holds more than keep versions or that touched names
// (touched's Version is ignored): every package that retention may drop
// once a round's changes apply. components, if not empty, limits the groups.
func (s *Store) RetentionCandidates(ctx context.Context, db DBTX, releaseID int64, keep int, components []string,
	touched []ChangeRemove) ([]ChangeRemove, error) {
	if touched == nil {
		touched = []ChangeRemove{}
	}
	t, _ := json.Marshal(touched)
	rows, err := db.Query(ctx, `
		WITH m AS (
			SELECT rp.component, p.name, p.version, p.architecture
			FROM release_packages rp JOIN packages p ON p.id = rp.package_id
			WHERE rp.release_id = $1 AND (coalesce(cardinality($3::text[]), 0) = 0 OR rp.component = ANY($3))
		), g AS (
			SELECT component, name, architecture FROM m GROUP BY 1, 2, 3 HAVING count(*) > $2
			UNION
			SELECT component, name, architecture
			FROM jsonb_to_recordset($4) AS t(component text, name text, architecture text)
		)
		SELECT m.component, m.name, m.version, m.architecture FROM m JOIN g USING (component, name, architecture)`,
		releaseID, keep, components, t)
	if err != nil {
		return nil, translate("retention candidates", err)
	}
	defer rows.Close()
	var out []ChangeRemove
	for rows.Next() {
		var r ChangeRemove
		if err := rows.Scan(&r.Component, &r.Name, &r.Version, &r.Architecture); err != nil {
			return nil, translate("retention candidates", err)
		}
		out = append(out, r)
	}
	return out, translate("retention candidates", rows.Err())
}
