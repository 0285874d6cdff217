package worker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
)

// indexKey names one Packages index: a component × architecture; the
// component of a udebs' index is apt.InstallerComponent's.
type indexKey struct{ component, arch string }

func (k indexKey) dir() string { return k.component + "/binary-" + k.arch }

// indexKeyOf is the index a file of it belongs to:
// "main/binary-amd64/Packages.gz" → {main, amd64}.
func indexKeyOf(path string) indexKey {
	dir := indexDir(path)
	i := strings.LastIndex(dir, "/binary-")
	if i < 0 {
		return indexKey{}
	}
	return indexKey{dir[:i], dir[i+len("/binary-"):]}
}

// generated is what a round's Release lists (new files and those reused
// from the last generation), which files went up under by-hash, and how
// many bytes that wrote.
type generated struct {
	all      []store.IndexFile
	newFiles []string
	bytes    int64
}

// builtIndex is one index a round regenerated, and its files in the order
// of the release's file kinds (see fileKinds).
type builtIndex struct {
	key   indexKey
	ix    *apt.Index
	files []apt.IndexFile
}

// fileKinds are the files of each index of rel: the uncompressed Packages
// first (always listed), then its compressions; stored says which of them
// S3 holds: the uncompressed one only with the "none" compression.
func fileKinds(rel store.Release) (kinds []apt.Compression, stored []bool) {
	kinds, stored = []apt.Compression{apt.None}, []bool{slices.Contains(rel.Compressions, string(apt.None))}
	for _, c := range rel.Compressions {
		if c != string(apt.None) {
			kinds, stored = append(kinds, apt.Compression(c)), append(stored, true)
		}
	}
	return kinds, stored
}

// generate builds the indexes a round changes: only the component ×
// architecture indexes its changes touch (and any the last generation
// lacks) are regenerated; the others are listed as they were. An index
// this worker kept from the last generation (see indexCache) takes the
// changes as edits; any other is rebuilt from the database. Each file S3
// is to hold goes up under by-hash/SHA256 as soon as its own bytes and
// digests are final, while the other files and the next index are built.
func (w *PublishWorker) generate(ctx context.Context, rel store.Release, changes []store.Change, prefix string) (generated, error) {
	var g generated
	var prev []store.IndexFile
	if rel.Generation > 0 {
		var err error
		prev, err = w.cfg.Store.ReleaseFiles(ctx, rel.ID, rel.Generation)
		if err != nil {
			return g, err
		}
	}
	prevByPath := make(map[string]store.IndexFile, len(prev))
	for _, f := range prev {
		prevByPath[f.Path] = f
	}

	var addIDs []int64
	for _, c := range changes {
		for _, a := range c.Adds {
			addIDs = append(addIDs, a.PackageID)
		}
	}
	added, err := w.cfg.Store.PackagesByID(ctx, addIDs)
	if err != nil {
		return g, err
	}
	edits, err := netEdits(changes, added)
	if err != nil {
		return g, err
	}
	changed := changedIndexes(rel, changes, edits, prevByPath)

	cached := map[indexKey]*apt.Index{}
	rebuild := map[indexKey]bool{}
	for k := range changed {
		ix := w.indexes.index(cacheKey{rel.ID, k}, prevByPath[k.dir()+"/Packages"].SHA256)
		w.cfg.Metrics.IndexLookup(ix != nil)
		if ix != nil {
			cached[k] = ix
		} else {
			rebuild[k] = true
		}
	}
	var members map[string][]apt.Package
	if len(rebuild) > 0 {
		if members, err = w.membersAfter(ctx, rel, rebuild, edits); err != nil {
			return g, err
		}
	}

	kinds, stored := fileKinds(rel)
	up := w.newByHashUploader(ctx, prefix, rel.Name)
	var built []*builtIndex
	for _, k := range indexKeys(rel) {
		if !changed[k] {
			continue
		}
		var ix *apt.Index
		if base := cached[k]; base != nil {
			e := edits[k.component]
			ix, err = base.Apply(apt.SplitByArch(e.Adds, []string{k.arch})[k.arch], e.Removes)
		} else {
			ix, err = apt.NewIndex(k.component, k.arch, apt.SplitByArch(members[k.component], []string{k.arch})[k.arch])
		}
		if err != nil {
			up.abandon()
			return g, fmt.Errorf("generate %s: %w", k.dir(), err)
		}
		b := &builtIndex{key: k, ix: ix, files: make([]apt.IndexFile, len(kinds))}
		built = append(built, b)
		for i, c := range kinds {
			up.produce(func() (apt.IndexFile, error) { return ix.File(c) }, &b.files[i], stored[i])
		}
	}
	srcBuilt, err := w.buildSources(ctx, rel, changes, added, prevByPath, up)
	if err != nil {
		up.abandon()
		return g, err
	}
	var contents *contentsRound
	var contentsBuilt []*builtContents
	if rel.Contents {
		contents = &contentsRound{rel: rel, edits: edits, addIDs: contentsAddIDs(changes, added), prev: prevByPath, changed: changed}
		if contentsBuilt, err = w.generateContents(ctx, contents, up); err != nil {
			up.abandon()
			return g, err
		}
	}
	if g.bytes, err = up.wait(); err != nil {
		return g, fmt.Errorf("generate: %w", err)
	}
	builtBy := map[indexKey]*builtIndex{}
	for _, b := range built {
		builtBy[b.key] = b
		w.indexes.put(cacheKey{rel.ID, b.key}, b.ix, b.files)
	}
	for _, k := range indexKeys(rel) {
		b := builtBy[k]
		if b == nil {
			for _, f := range prev {
				if indexDir(f.Path) == k.dir() {
					// The new Release lists no SHA512: an older generation's
					// by-hash/SHA512 copy is kept only by the rows that name it.
					f.SHA512 = ""
					g.all = append(g.all, f)
				}
			}
			continue
		}
		for i, f := range b.files {
			if stored[i] {
				g.newFiles = append(g.newFiles, f.Path)
			}
			g.all = append(g.all, store.IndexFile{Path: f.Path, Size: f.Size, MD5: f.MD5,
				SHA256: f.SHA256, ListedOnly: !stored[i]})
		}
	}
	appendSources(&g, rel, srcBuilt, prev)
	if contents != nil {
		all, newFiles := w.listContents(contents, contentsBuilt)
		g.all, g.newFiles = append(g.all, all...), append(g.newFiles, newFiles...)
	}
	return g, nil
}

// changedIndexes returns the indexes a round must regenerate: those its
// changes touch (an Architecture: all package touches every one of its
// component) and any the last generation lacks. A component's udeb
// indexes exist once a round adds a udeb to it (see hasInstallerIndexes);
// a change touches them only if the round's edits of them are not empty (a
// udeb added, or any removal, which names no package type).
func changedIndexes(rel store.Release, changes []store.Change, edits map[string]apt.Edits,
	prevByPath map[string]store.IndexFile) map[indexKey]bool {
	changed := map[indexKey]bool{}
	touch := func(component, arch string) {
		comps := []string{component}
		if e := edits[apt.InstallerComponent(component)]; (len(e.Adds) > 0 || len(e.Removes) > 0) &&
			hasInstallerIndexes(component, edits, prevByPath) {
			comps = append(comps, apt.InstallerComponent(component))
		}
		for _, c := range comps {
			for _, a := range rel.Architectures {
				if arch == apt.ArchAll || arch == a {
					changed[indexKey{c, a}] = true
				}
			}
		}
	}
	for _, c := range changes {
		for _, a := range c.Adds {
			touch(a.Component, a.Architecture)
		}
		for _, r := range c.Removes {
			touch(r.Component, r.Architecture)
		}
	}
	kinds, stored := fileKinds(rel)
	for _, k := range indexKeys(rel) {
		if apt.IsInstallerComponent(k.component) && !hasInstallerIndexes(apt.ReleaseComponent(k.component), edits, prevByPath) {
			continue
		}
		if !sameFileKinds(k.dir(), apt.IndexFileName, kinds, stored, prevByPath) {
			changed[k] = true
		}
	}
	return changed
}

// sameFileKinds says whether the last generation has the index in dir
// (files named by fileName) with exactly
// the files the release's compressions make, stored where they say so: a
// new index, or one whose compressions an update changed, is regenerated.
// A stored uncompressed Packages the release no longer asks for (the
// layout before 0019, or "none" dropped) may stay until the index changes.
func sameFileKinds(dir string, fileName func(apt.Compression) string, kinds []apt.Compression, stored []bool,
	prevByPath map[string]store.IndexFile) bool {
	n := 0
	for path := range prevByPath {
		if indexDir(path) == dir {
			n++
		}
	}
	if n != len(kinds) {
		return false
	}
	for i, c := range kinds {
		f, ok := prevByPath[dir+"/"+fileName(c)]
		if !ok || (stored[i] && f.ListedOnly) {
			return false
		}
	}
	return true
}

// netEdits folds the changes into each component's net edits
// (apt.EditFold, as the signer's check does).
func netEdits(changes []store.Change, added map[int64]store.Package) (map[string]apt.Edits, error) {
	var fold apt.EditFold
	for _, c := range changes {
		for _, a := range c.Adds {
			if a.Architecture == apt.ArchSource {
				continue // Sources: buildSources
			}
			sp, ok := added[a.PackageID]
			if !ok {
				return nil, fmt.Errorf("change %d adds unknown package %d", c.ID, a.PackageID)
			}
			p, err := aptPackage(sp, a.Filename)
			if err != nil {
				return nil, err
			}
			fold.Add(a.Component, p)
		}
		for _, r := range c.Removes {
			fold.Remove(r.Component, apt.PackageKey{Name: r.Name, Version: r.Version, Arch: r.Architecture})
		}
	}
	return fold.Edits(), nil
}

// membersAfter returns, per component of the indexes to rebuild, the
// packages it holds once the edits apply to the last committed membership.
func (w *PublishWorker) membersAfter(ctx context.Context, rel store.Release, rebuild map[indexKey]bool,
	edits map[string]apt.Edits) (map[string][]apt.Package, error) {
	var comps, archs []string
	for k := range rebuild {
		if c := apt.ReleaseComponent(k.component); !slices.Contains(comps, c) {
			comps = append(comps, c)
		}
		if !slices.Contains(archs, k.arch) {
			archs = append(archs, k.arch)
		}
	}
	archs = append(archs, "all")
	current, err := w.cfg.Store.Members(ctx, rel.ID, comps, archs)
	if err != nil {
		return nil, err
	}
	type key struct {
		component string
		pkg       apt.PackageKey
	}
	set := map[key]apt.Package{}
	for _, m := range current {
		p, err := aptPackage(m.Package, m.Filename)
		if err != nil {
			return nil, err
		}
		set[key{apt.IndexComponent(m.Component, p.Control), apt.PackageKey{Name: m.Package.Name, Version: m.Package.Version, Arch: m.Package.Architecture}}] = p
	}
	indexComps := map[string]bool{}
	for k := range rebuild {
		indexComps[k.component] = true
	}
	for comp := range indexComps {
		for _, r := range edits[comp].Removes {
			delete(set, key{comp, r})
		}
		for _, p := range edits[comp].Adds {
			set[key{comp, apt.PackageKey{Name: p.Name(), Version: p.Version(), Arch: p.Arch()}}] = p
		}
	}
	out := map[string][]apt.Package{}
	for k, p := range set {
		out[k.component] = append(out[k.component], p)
	}
	return out, nil
}

// aptPackage is a stored package as an index lists it under filename.
func aptPackage(p store.Package, filename string) (apt.Package, error) {
	control, err := apt.ParseParagraph([]byte(p.Control))
	if err != nil {
		return apt.Package{}, fmt.Errorf("stored control of package %s: %w", p.SHA256, err)
	}
	return apt.Package{Control: control, Filename: filename, Size: p.Size,
		MD5: p.MD5, SHA1: p.SHA1, SHA256: p.SHA256, SHA512: p.SHA512}, nil
}

// indexDir is the directory of an index path: "main/binary-amd64/Packages.gz" → "main/binary-amd64".
func indexDir(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i]
		}
	}
	return ""
}
