package api

import (
	"time"

	"github.com/aptq/aptq/store"
)

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
