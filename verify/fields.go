package verify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aptq/aptq/apt"
)

// varying are the Release fields a new generation may change: the file
// lists (checked index by index), the dates (checked by checkDates) and
// the generation.
var varying = map[string]bool{"MD5Sum": true, "SHA1": true, "SHA256": true, "SHA512": true,
	"Date": true, "Valid-Until": true, "Aptq-Generation": true}

// keepVersionsField is the Release field of the retention in force.
const keepVersionsField = "Aptq-Keep-Versions"

// updatable are the fields a listed release update may set through
// Update.Fields; components and architectures change through its lists.
var updatable = map[string]bool{"Origin": true, "Label": true, "Suite": true, "Codename": true,
	"Version": true, "Description": true, "NotAutomatic": true, "ButAutomaticUpgrades": true, "Signed-By": true}

// checkFields compares the fields that describe the release: the new
// Release must have exactly the previous one's, with the round's listed
// updates applied in order, and nothing else changed.
func checkFields(prev, next *apt.Release, changes []Change) error {
	if prev == nil {
		return nil
	}
	want, err := expectedFields(prev, changes)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, f := range next.Fields {
		if varying[f.Name] {
			continue
		}
		if seen[f.Name] {
			return fmt.Errorf("the Release to sign has field %s twice", f.Name)
		}
		seen[f.Name] = true
		w, ok := want[f.Name]
		switch {
		case !ok:
			return fmt.Errorf("the Release to sign adds field %s: %q, which no change of the round sets", f.Name, f.Value)
		case w != f.Value:
			return fmt.Errorf("the Release to sign changes %s: %q, generation %d says %s: %q%s",
				f.Name, f.Value, prev.Meta.Generation, f.Name, w, afterUpdates(changes))
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !seen[name] {
			return fmt.Errorf("the Release to sign drops field %s (%q), which no change of the round drops", name, want[name])
		}
	}
	return nil
}

// expectedFields returns the previous Release's fields (but the varying
// ones) with the round's updates applied in order.
func expectedFields(prev *apt.Release, changes []Change) (map[string]string, error) {
	want := map[string]string{}
	for _, f := range prev.Fields {
		if !varying[f.Name] {
			want[f.Name] = f.Value
		}
	}
	for _, c := range changes {
		u := c.Update
		if u == nil {
			continue
		}
		for name, v := range u.Fields {
			if !updatable[name] {
				return nil, fmt.Errorf("change %d (job %d) updates field %s, which a release update cannot set", c.ID, c.JobID, name)
			}
			if v == "" {
				delete(want, name)
			} else {
				want[name] = v
			}
		}
		if u.KeepVersions != nil {
			// As apt.BuildRelease writes it: only a retention that drops something.
			delete(want, keepVersionsField)
			if *u.KeepVersions > 0 {
				want[keepVersionsField] = strconv.Itoa(*u.KeepVersions)
			}
		}
		for _, l := range []struct {
			field       string
			add, remove []string
		}{{"Components", u.AddComponents, u.RemoveComponents}, {"Architectures", u.AddArchitectures, u.RemoveArchitectures}} {
			if len(l.add) == 0 && len(l.remove) == 0 {
				continue
			}
			list := strings.Fields(want[l.field])
			for _, r := range l.remove {
				if !slices.Contains(list, r) {
					return nil, fmt.Errorf("change %d (job %d) removes %s %q, which the release does not have", c.ID, c.JobID,
						strings.ToLower(l.field), r)
				}
			}
			list = slices.DeleteFunc(list, func(x string) bool { return slices.Contains(l.remove, x) })
			for _, a := range l.add {
				if !slices.Contains(list, a) {
					list = append(list, a)
				}
			}
			if len(list) == 0 {
				return nil, fmt.Errorf("change %d (job %d) leaves the release without %s", c.ID, c.JobID, strings.ToLower(l.field))
			}
			want[l.field] = strings.Join(list, " ")
		}
	}
	return want, nil
}

// afterUpdates qualifies "generation N says" when the round updates the release.
func afterUpdates(changes []Change) string {
	for _, c := range changes {
		if c.Update != nil {
			return " once the round's updates apply"
		}
	}
	return ""
}

// checkPlaces refuses a round whose change adds a package where the new
// Release has no index for it (a component or an architecture an update
// removed): the index would not list it, whatever the change says.
func checkPlaces(next *apt.Release, changes []Change) error {
	for _, c := range changes {
		for _, a := range c.Adds {
			if !slices.Contains(next.Meta.Components, a.Component) ||
				(a.Architecture != apt.ArchAll && a.Architecture != apt.ArchSource && !slices.Contains(next.Meta.Architectures, a.Architecture)) {
				return fmt.Errorf("change %d (job %d) adds %s %s %s to %s, which the Release to sign has no index for",
					c.ID, c.JobID, a.Name, a.Version, a.Architecture, a.Component)
			}
		}
	}
	return nil
}
