package worker

import (
	"context"
	"fmt"
	"path"
	"slices"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
)

// builtSources is one component's Sources index a round regenerated, its
// files in the order of the release's file kinds (see fileKinds).
type builtSources struct {
	component string
	files     []apt.IndexFile
}

// buildSources regenerates the Sources index of each component whose
// sources the round's changes touch, or whose last Sources files are not
// the kinds the release asks for now, putting its files under by-hash
// through up. A component gets a Sources index with its first source and
// keeps it from then on (empty once its sources are removed), so a
// release that never had a source lists none, as before sources existed.
// Sources indexes are small beside Packages: each is rebuilt from the
// membership, without a cache.
func (w *PublishWorker) buildSources(ctx context.Context, rel store.Release, changes []store.Change,
	added map[int64]store.Package, prevByPath map[string]store.IndexFile, up *byHashUploader) ([]*builtSources, error) {
	kinds, stored := fileKinds(rel)
	var built []*builtSources
	for _, comp := range rel.Components {
		touched := false
		for _, c := range changes {
			for _, a := range c.Adds {
				touched = touched || (a.Component == comp && a.Architecture == apt.ArchSource)
			}
			for _, r := range c.Removes {
				touched = touched || (r.Component == comp && r.Architecture == apt.ArchSource)
			}
		}
		_, had := prevByPath[apt.SourcesDir(comp)+"/"+apt.SourcesFileName(apt.None)]
		if !touched && (!had || sameFileKinds(apt.SourcesDir(comp), apt.SourcesFileName, kinds, stored, prevByPath)) {
			continue
		}
		plain, err := w.sourcesAfter(ctx, rel, comp, changes, added)
		if err != nil {
			return nil, err
		}
		files, err := apt.SourcesFiles(comp, plain, kinds[1:])
		if err != nil {
			return nil, err
		}
		b := &builtSources{component: comp, files: make([]apt.IndexFile, len(files))}
		built = append(built, b)
		for i := range files {
			up.produce(func() (apt.IndexFile, error) { return files[i], nil }, &b.files[i], stored[i])
		}
	}
	return built, nil
}

// sourcesAfter renders comp's Sources once the round's changes apply, in
// order (each change's additions, then its removals), to the last
// committed membership.
func (w *PublishWorker) sourcesAfter(ctx context.Context, rel store.Release, comp string, changes []store.Change,
	added map[int64]store.Package) ([]byte, error) {
	members, err := w.cfg.Store.Members(ctx, rel.ID, []string{comp}, []string{apt.ArchSource})
	if err != nil {
		return nil, err
	}
	var srcs []apt.Source
	for _, m := range members {
		s, err := sourceEntry(m.Package, m.Filename)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, s)
	}
	for _, c := range changes {
		var adds []apt.Source
		var removes []apt.SourceKey
		for _, a := range c.Adds {
			if a.Component != comp || a.Architecture != apt.ArchSource {
				continue
			}
			p, ok := added[a.PackageID]
			if !ok {
				return nil, fmt.Errorf("change %d adds unknown source %d", c.ID, a.PackageID)
			}
			s, err := sourceEntry(p, a.Filename)
			if err != nil {
				return nil, err
			}
			adds = append(adds, s)
		}
		for _, r := range c.Removes {
			if r.Component == comp && r.Architecture == apt.ArchSource {
				removes = append(removes, apt.SourceKey{Name: r.Name, Version: r.Version})
			}
		}
		srcs = apt.ApplySources(apt.ApplySources(srcs, adds, nil), nil, removes)
	}
	plain, err := apt.RenderSources(srcs)
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", apt.SourcesDir(comp), err)
	}
	return plain, nil
}

// sourceEntry is a stored source package as Sources lists it, its .dsc at
// filename.
func sourceEntry(p store.Package, filename string) (apt.Source, error) {
	control, err := apt.ParseParagraph([]byte(p.Control))
	if err != nil {
		return apt.Source{}, fmt.Errorf("stored stanza of source %s: %w", p.SHA256, err)
	}
	return apt.Source{Control: control, Directory: path.Dir(filename)}, nil
}

// appendSources lists the Sources files of the new generation in g: those
// built, and the last generation's of every other component that still
// exists.
func appendSources(g *generated, rel store.Release, built []*builtSources, prev []store.IndexFile) {
	_, stored := fileKinds(rel)
	for _, comp := range rel.Components {
		i := slices.IndexFunc(built, func(b *builtSources) bool { return b.component == comp })
		if i < 0 {
			for _, f := range prev {
				if indexDir(f.Path) == apt.SourcesDir(comp) {
					f.SHA512 = ""
					g.all = append(g.all, f)
				}
			}
			continue
		}
		for j, f := range built[i].files {
			if stored[j] {
				g.newFiles = append(g.newFiles, f.Path)
			}
			g.all = append(g.all, store.IndexFile{Path: f.Path, Size: f.Size, MD5: f.MD5,
				SHA256: f.SHA256, ListedOnly: !stored[j]})
		}
	}
}

// regenerateSources rebuilds the Sources index of each component in dirs
// from the committed membership and restores its by-hash objects (see
// regenerate).
func (r *reconciler) regenerateSources(ctx context.Context, dirs map[string]bool, want map[string]store.IndexFile) error {
	kinds, _ := fileKinds(r.rel)
	for _, comp := range r.rel.Components {
		if !dirs[apt.SourcesDir(comp)] {
			continue
		}
		plain, err := r.w.sourcesAfter(ctx, r.rel, comp, nil, nil)
		if err != nil {
			return err
		}
		files, err := apt.SourcesFiles(comp, plain, kinds[1:])
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := r.restoreByHash(ctx, f, want); err != nil {
				return err
			}
		}
	}
	return nil
}
