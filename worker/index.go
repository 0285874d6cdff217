package worker

import (
	"context"
	"fmt"
	"slices"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
)

// indexKey names one Packages index: a component × architecture.
type indexKey struct{ component, arch string }

func (k indexKey) dir() string { return k.component + "/binary-" + k.arch }

// generated is what a round's Release lists (new files and those reused
// from the last generation) and how many files were new.
type generated struct {
	all      []store.IndexFile
	newFiles int
}

// generate builds the indexes a round changes: only the component ×
// architecture indexes its changes touch (and any the last generation
// lacks) are regenerated; the others are listed as they were. Each new
// index goes to emit as soon as it is built, so that only one index's bytes
// are in memory at a time.
func (w *PublishWorker) generate(ctx context.Context, rel store.Release, changes []store.Change,
	emit func([]apt.IndexFile) error) (generated, error) {
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

	changed := map[indexKey]bool{}
	touch := func(component, arch string) {
		for _, a := range rel.Architectures {
			if arch == "all" || arch == a {
				changed[indexKey{component, a}] = true
			}
		}
	}
	var addIDs []int64
	for _, c := range changes {
		for _, a := range c.Adds {
			touch(a.Component, a.Architecture)
			addIDs = append(addIDs, a.PackageID)
		}
		for _, r := range c.Removes {
			touch(r.Component, r.Architecture)
		}
	}
	for _, comp := range rel.Components {
		for _, arch := range rel.Architectures {
			k := indexKey{comp, arch}
			if _, ok := prevByPath[k.dir()+"/Packages"]; !ok {
				changed[k] = true
			}
		}
	}

	members, err := w.membersAfter(ctx, rel, changed, changes, addIDs)
	if err != nil {
		return g, err
	}
	compressions := make([]apt.Compression, len(rel.Compressions))
	for i, c := range rel.Compressions {
		compressions[i] = apt.Compression(c)
	}
	for _, comp := range rel.Components {
		for _, arch := range rel.Architectures {
			k := indexKey{comp, arch}
			if !changed[k] {
				for _, f := range prev {
					if indexDir(f.Path) == k.dir() {
						g.all = append(g.all, f)
					}
				}
				continue
			}
			files, err := apt.GenerateIndexes(comp, arch, apt.SplitByArch(members[comp], []string{arch})[arch], compressions)
			if err != nil {
				return g, fmt.Errorf("generate %s: %w", k.dir(), err)
			}
			if err := emit(files); err != nil {
				return g, err
			}
			g.newFiles += len(files)
			for _, f := range files {
				g.all = append(g.all, store.IndexFile{Path: f.Path, Size: f.Size, MD5: f.MD5,
					SHA1: f.SHA1, SHA256: f.SHA256, SHA512: f.SHA512})
			}
		}
	}
	return g, nil
}

// membersAfter returns, per changed component, the packages it holds once
// the changes apply in order to the last committed membership.
func (w *PublishWorker) membersAfter(ctx context.Context, rel store.Release, changed map[indexKey]bool,
	changes []store.Change, addIDs []int64) (map[string][]apt.Package, error) {
	var comps, archs []string
	for k := range changed {
		if !slices.Contains(comps, k.component) {
			comps = append(comps, k.component)
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
	added, err := w.cfg.Store.PackagesByID(ctx, addIDs)
	if err != nil {
		return nil, err
	}

	type key struct {
		component string
		id        int64
	}
	set := map[key]store.Member{}
	for _, m := range current {
		set[key{m.Component, m.Package.ID}] = m
	}
	for _, c := range changes {
		for _, a := range c.Adds {
			p, ok := added[a.PackageID]
			if !ok {
				return nil, fmt.Errorf("change %d adds unknown package %d", c.ID, a.PackageID)
			}
			set[key{a.Component, a.PackageID}] = store.Member{Component: a.Component, Filename: a.Filename, Package: p}
		}
		for _, r := range c.Removes {
			for k, m := range set {
				p := m.Package
				if k.component == r.Component && p.Name == r.Name && p.Version == r.Version && p.Architecture == r.Architecture {
					delete(set, k)
				}
			}
		}
	}

	out := map[string][]apt.Package{}
	for k, m := range set {
		if !slices.Contains(comps, k.component) {
			continue
		}
		control, err := apt.ParseParagraph([]byte(m.Package.Control))
		if err != nil {
			return nil, fmt.Errorf("stored control of package %s: %w", m.Package.SHA256, err)
		}
		out[k.component] = append(out[k.component], apt.Package{Control: control, Filename: m.Filename,
			Size: m.Package.Size, MD5: m.Package.MD5, SHA1: m.Package.SHA1, SHA256: m.Package.SHA256,
			SHA512: m.Package.SHA512})
	}
	return out, nil
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
