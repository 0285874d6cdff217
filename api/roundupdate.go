package api

import (
	"time"

	"github.com/aptq/aptq/store"
)

// RoundUpdateView is what a release update changes, as the signer checks
// it against the previous Release (DESIGN G9): Fields maps each Release
// field it sets to the new value ("" drops the field); components and
// architectures change by the lists. Compressions change no field (they
// show in the file lists); ValidFor is what Valid-Until - Date becomes
// ("none": no Valid-Until) and KeepVersions the Release's
// Aptq-Keep-Versions (0: the field dropped) and the retention the round
// applies, which the signer checks.
type RoundUpdateView struct {
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

// roundUpdateView renders a change's settings as Release fields, the way
// apt.BuildRelease writes them; nil for a change of packages only.
func roundUpdateView(st *store.ReleaseSettings) *RoundUpdateView {
	if st == nil {
		return nil
	}
	v := &RoundUpdateView{Fields: map[string]string{}, AddComponents: st.AddComponents,
		RemoveComponents: st.RemoveComponents, AddArchitectures: st.AddArchitectures,
		RemoveArchitectures: st.RemoveArchitectures, Compressions: st.Compressions, KeepVersions: st.KeepVersions,
		Contents: st.Contents}
	for _, f := range []struct {
		name string
		v    *string
	}{{"Origin", st.Origin}, {"Label", st.Label}, {"Suite", st.Suite}, {"Codename", st.Codename},
		{"Version", st.Version}, {"Description", st.Description}, {"Signed-By", st.SignedBy}} {
		if f.v != nil {
			v.Fields[f.name] = *f.v
		}
	}
	for _, f := range []struct {
		name string
		v    *bool
	}{{"NotAutomatic", st.NotAutomatic}, {"ButAutomaticUpgrades", st.ButAutomaticUpgrades}} {
		if f.v != nil {
			v.Fields[f.name] = ""
			if *f.v {
				v.Fields[f.name] = "yes"
			}
		}
	}
	if st.ValidFor != nil {
		v.ValidFor = "none"
		if *st.ValidFor > 0 {
			v.ValidFor = (time.Duration(*st.ValidFor) * time.Second).String()
		}
	}
	return v
}
