package worker

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
)

// contentsPath is the Release path of the Contents index of k (gzip).
func contentsPath(k indexKey) string { return k.component + "/" + apt.ContentsFileName(k.arch) }

// contentsPlainPath is the Release path of the uncompressed Contents of k,
// which the Release lists and S3 does not hold.
func contentsPlainPath(k indexKey) string { return k.component + "/" + apt.ContentsPlainName(k.arch) }

// builtContents is one Contents index a round regenerated.
type builtContents struct {
	key         indexKey
	ct          *apt.Contents
	plain, file apt.IndexFile
}

// contentsRound is what generate needs to build a round's Contents
// indexes: which package each addition is, by identity, so that its stored
// file list can be found.
type contentsRound struct {
	rel     store.Release
	edits   map[string]apt.Edits
	addIDs  map[string]map[apt.PackageKey]int64 // component → package → id
	prev    map[string]store.IndexFile
	changed map[indexKey]bool // the Packages indexes the round regenerates
}

// contentsChanged returns the Contents indexes a round regenerates: those
// of the Packages indexes it regenerates, and any the last generation
// lacks.
func (cr *contentsRound) contentsChanged() []indexKey {
	var out []indexKey
	for _, comp := range cr.rel.Components {
		for _, arch := range cr.rel.Architectures {
			k := indexKey{comp, arch}
			_, had := cr.prev[contentsPath(k)]
			if _, hadPlain := cr.prev[contentsPlainPath(k)]; cr.changed[k] || !had || !hadPlain {
				out = append(out, k)
			}
		}
	}
	return out
}

// generateContents builds the Contents indexes of a contents-enabled
// release that the round changes, each from the one this worker kept
// (applying the round's edits) or else from the database, and hands each
// file to the by-hash uploader as soon as it is built.
func (w *PublishWorker) generateContents(ctx context.Context, cr *contentsRound, up *byHashUploader) ([]*builtContents, error) {
	var built []*builtContents
	for _, k := range cr.contentsChanged() {
		base := w.contents.get(cacheKey{cr.rel.ID, k}, cr.prev[contentsPath(k)].SHA256)
		w.cfg.Metrics.IndexLookup(base != nil)
		var ct *apt.Contents
		var err error
		if base != nil {
			var adds []apt.ContentsPackage
			if adds, err = w.contentsAdds(ctx, cr, k); err == nil {
				e := cr.edits[k.component]
				ct, err = base.Apply(adds, e.Removes) // an addition replaces the package it names
			}
		} else {
			ct, err = w.rebuildContents(ctx, cr.rel, k, cr.edits, cr.addIDs)
		}
		if err != nil {
			return nil, fmt.Errorf("generate %s: %w", contentsPath(k), err)
		}
		b := &builtContents{key: k, ct: ct}
		built = append(built, b)
		up.produce(func() (apt.IndexFile, error) { return ct.Plain(), nil }, &b.plain, false)
		up.produce(func() (apt.IndexFile, error) { return ct.File(), nil }, &b.file, true)
	}
	return built, nil
}

// listed caches what the round built and returns the Contents files its
// Release lists: those built, and the last generation's for the others.
func (w *PublishWorker) listContents(cr *contentsRound, built []*builtContents) (all []store.IndexFile, newFiles []string) {
	byKey := map[indexKey]*builtContents{}
	for _, b := range built {
		byKey[b.key] = b
		w.contents.put(cacheKey{cr.rel.ID, b.key}, b.ct, b.file, b.plain.Size)
	}
	for _, comp := range cr.rel.Components {
		for _, arch := range cr.rel.Architectures {
			k := indexKey{comp, arch}
			b := byKey[k]
			if b == nil {
				all = append(all, cr.prev[contentsPlainPath(k)], cr.prev[contentsPath(k)])
				continue
			}
			newFiles = append(newFiles, b.file.Path)
			all = append(all, store.IndexFile{Path: b.plain.Path, Size: b.plain.Size, MD5: b.plain.MD5, SHA256: b.plain.SHA256, ListedOnly: true},
				store.IndexFile{Path: b.file.Path, Size: b.file.Size, MD5: b.file.MD5, SHA256: b.file.SHA256})
		}
	}
	return all, newFiles
}

// contentsAddIDs maps each package the changes add, by component and
// identity, to its id.
func contentsAddIDs(changes []store.Change, added map[int64]store.Package) map[string]map[apt.PackageKey]int64 {
	out := map[string]map[apt.PackageKey]int64{}
	for _, c := range changes {
		for _, a := range c.Adds {
			p := added[a.PackageID]
			if out[a.Component] == nil {
				out[a.Component] = map[apt.PackageKey]int64{}
			}
			out[a.Component][apt.PackageKey{Name: p.Name, Version: p.Version, Arch: p.Architecture}] = a.PackageID
		}
	}
	return out
}

// contentsAdds returns the round's additions to index k with their file
// lists.
func (w *PublishWorker) contentsAdds(ctx context.Context, cr *contentsRound, k indexKey) ([]apt.ContentsPackage, error) {
	e := cr.edits[k.component]
	pkgs := apt.SplitByArch(e.Adds, []string{k.arch})[k.arch]
	refs := make([]contentsRef, len(pkgs))
	for i := range pkgs {
		key := apt.PackageKey{Name: pkgs[i].Name(), Version: pkgs[i].Version(), Arch: pkgs[i].Arch()}
		refs[i] = contentsRef{key: key, section: pkgs[i].Control.Get("Section"), id: cr.addIDs[k.component][key]}
	}
	return w.contentsPackages(ctx, refs)
}

// contentsRef is a package of a Contents index before its file list is read.
type contentsRef struct {
	key     apt.PackageKey
	section string
	id      int64
}

// rebuildContents renders index k from the release's committed membership
// with the round's edits applied.
func (w *PublishWorker) rebuildContents(ctx context.Context, rel store.Release, k indexKey,
	edits map[string]apt.Edits, addIDs map[string]map[apt.PackageKey]int64) (*apt.Contents, error) {
	current, err := w.cfg.Store.Members(ctx, rel.ID, []string{k.component}, []string{k.arch, apt.ArchAll})
	if err != nil {
		return nil, err
	}
	set := map[apt.PackageKey]contentsRef{}
	for _, m := range current {
		key := apt.PackageKey{Name: m.Package.Name, Version: m.Package.Version, Arch: m.Package.Architecture}
		control, err := apt.ParseParagraph([]byte(m.Package.Control))
		if err != nil {
			return nil, fmt.Errorf("stored control of package %s: %w", m.Package.SHA256, err)
		}
		if apt.IsUdeb(control) {
			continue // Contents lists no udebs, as Debian's (the edits fold them apart)
		}
		set[key] = contentsRef{key: key, section: control.Get("Section"), id: m.Package.ID}
	}
	e := edits[k.component]
	for _, r := range e.Removes {
		delete(set, r)
	}
	for _, p := range apt.SplitByArch(e.Adds, []string{k.arch})[k.arch] {
		key := apt.PackageKey{Name: p.Name(), Version: p.Version(), Arch: p.Arch()}
		set[key] = contentsRef{key: key, section: p.Control.Get("Section"), id: addIDs[k.component][key]}
	}
	refs := make([]contentsRef, 0, len(set))
	for _, r := range set {
		refs = append(refs, r)
	}
	pkgs, err := w.contentsPackages(ctx, refs)
	if err != nil {
		return nil, err
	}
	return apt.NewContents(k.component, k.arch, pkgs)
}

// contentsPackages reads the stored file lists of refs. A package uploaded
// before aptq read file lists has none: its file list is read from the
// uploaded .deb once and stored, so that a release that turns Contents on
// later costs one pass over its old packages.
func (w *PublishWorker) contentsPackages(ctx context.Context, refs []contentsRef) ([]apt.ContentsPackage, error) {
	ids := make([]int64, len(refs))
	for i, r := range refs {
		ids[i] = r.id
	}
	lists, err := w.cfg.Store.PackageFileLists(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]apt.ContentsPackage, len(refs))
	// Reading old packages' .debs from S3 is the slow part: uploadConcurrency
	// at a time.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	for i, r := range refs {
		list, ok := lists[r.id]
		g.Go(func() error {
			var files []string
			var err error
			if ok {
				files, err = apt.DecodeFileList(list)
			} else {
				files, err = w.backfillFileList(gctx, r.id)
			}
			if err != nil {
				return fmt.Errorf("package %s %s %s: %w", r.key.Name, r.key.Version, r.key.Arch, err)
			}
			out[i] = apt.ContentsPackage{Key: r.key, Section: r.section, Files: files}
			return nil
		})
	}
	return out, g.Wait()
}

// backfillFileList reads the file list of package id from its uploaded
// .deb and stores it.
func (w *PublishWorker) backfillFileList(ctx context.Context, id int64) ([]string, error) {
	pkgs, err := w.cfg.Store.PackagesByID(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	p, ok := pkgs[id]
	if !ok {
		return nil, fmt.Errorf("package %d not found", id)
	}
	body, _, err := w.cfg.Blob.Get(ctx, store.PackageBlobKey(p.TenantID, p.SHA256), "")
	if err != nil {
		return nil, fmt.Errorf("read uploaded package %s: %w", p.SHA256, err)
	}
	defer body.Close()
	_, files, err := apt.ReadDebFiles(body)
	if err != nil {
		return nil, fmt.Errorf("file list of uploaded package %s: %w", p.SHA256, err)
	}
	return files, w.cfg.Store.SetPackageFileList(ctx, id, apt.EncodeFileList(files), len(files))
}

// contentsKeyOf is the index a Contents path belongs to:
// "main/Contents-amd64.gz" and "main/Contents-amd64" → {main, amd64}; ok
// is false for other paths.
func contentsKeyOf(path string) (indexKey, bool) {
	dir := indexDir(path)
	if dir == "" {
		return indexKey{}, false
	}
	arch, ok := strings.CutPrefix(strings.TrimSuffix(path[len(dir)+1:], ".gz"), "Contents-")
	if !ok || arch == "" {
		return indexKey{}, false
	}
	return indexKey{dir, arch}, true
}

// cachedData returns the content of a file of release rel at path with
// this SHA-256 from the Packages or Contents cache, else nil.
func (w *PublishWorker) cachedData(rel int64, path, sha256 string) []byte {
	if k, ok := contentsKeyOf(path); ok {
		return w.contents.data(cacheKey{rel, k}, path, sha256)
	}
	return w.indexes.data(cacheKey{rel, indexKeyOf(path)}, path, sha256)
}

// regenerateContents rebuilds, from the committed membership, the
// Contents indexes of the committed generation that live in dirs (their
// component's directory) and repairs their by-hash objects.
func (r *reconciler) regenerateContents(ctx context.Context, dirs map[string]bool) error {
	want := map[string]store.IndexFile{}
	for _, f := range r.round.Files {
		want[f.Path] = f
	}
	for _, f := range r.round.Files {
		k, ok := contentsKeyOf(f.Path)
		if !ok || f.ListedOnly || !dirs[k.component] {
			continue
		}
		ct, err := r.w.rebuildContents(ctx, r.rel, k, nil, nil)
		if err != nil {
			return err
		}
		if err := r.restoreByHash(ctx, ct.File(), want); err != nil {
			return err
		}
	}
	return nil
}
