package apt

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
)

// Compression names a compressed variant of an index file by its file-name
// extension. The uncompressed file is always produced as well.
type Compression string

// The compressions apt understands that aptq produces. None is the
// uncompressed file, which a Release always lists but a repository stores
// only when its compressions include "none".
const (
	None Compression = "none"
	Gzip Compression = "gz"
	XZ   Compression = "xz"
)

// IndexFileName is the name of an index's file of compression c.
func IndexFileName(c Compression) string {
	if c == None {
		return "Packages"
	}
	return "Packages." + string(c)
}

// IndexFile is one file listed in Release, with its path relative to
// dists/<release>/ (e.g. "main/binary-amd64/Packages.xz").
type IndexFile struct {
	Path string
	// Data is the content, or nil when the caller carries only the metadata
	// of an index that did not change since it was last published.
	Data []byte
	Size int64
	// Digests of Data, lowercase hex. Release lists MD5 and SHA256, the
	// ones generated files carry; SHA1 and SHA512 are read from other
	// tools' Release files (and from aptq's before it dropped SHA512).
	MD5, SHA1, SHA256, SHA512 string
}

// GenerateIndexes builds <component>/binary-<arch>/Packages and its
// compressed variants from pkgs, which must be the packages of that
// component whose architecture is arch or "all" (see SplitByArch): it is
// NewIndex followed by Files.
func GenerateIndexes(component, arch string, pkgs []Package, compressions []Compression) ([]IndexFile, error) {
	ix, err := NewIndex(component, arch, pkgs)
	if err != nil {
		return nil, err
	}
	return ix.Files(compressions)
}

// Index is one Packages index (a component × architecture) as rendered,
// kept in memory between rounds so that the next generation costs what
// changed plus one pass over the file: Apply renders only the stanzas of
// the packages it adds, and Files recompresses only the gzip and xz chunks
// whose stanzas changed (see chunk.go). An Index is immutable and safe for
// concurrent use; Apply returns a new one that shares the unchanged
// stanzas and compressed chunks with its parent.
//
// Stanzas are written as apt-ftparchive writes them (field order, spelling,
// Filename/Size/digests in place) and sorted by package name, version
// (Debian order) and architecture. The bytes are a function of the set of
// packages only: the same packages, in any order and whether reached by
// NewIndex or by any sequence of Apply, give the same files.
type Index struct {
	component, arch string
	items           []*item // sorted by compareItems
	plain           []byte  // the Packages file: the items' texts in order
	gzChunks        []*chunk
	xzChunks        []*chunk
	sums            plainSums
}

// NewIndex renders the index of pkgs, which must be the packages of the
// component whose architecture is arch or "all" (see SplitByArch).
func NewIndex(component, arch string, pkgs []Package) (*Index, error) {
	if err := checkComponent(component); err != nil {
		return nil, err
	}
	if err := checkArchitecture(arch); err != nil {
		return nil, fmt.Errorf("architecture: %w", err)
	}
	items, sorted, err := sortItems(arch, pkgs)
	if err != nil {
		return nil, fmt.Errorf("%s/binary-%s: %w", component, arch, err)
	}
	plain := renderPackages(items, sorted)
	return newIndex(component, arch, items, plain, nil), nil
}

// sortItems checks pkgs for binary-<arch> and returns their items and
// the packages in index order.
func sortItems(arch string, pkgs []Package) ([]*item, []*Package, error) {
	type pair struct {
		it *item
		p  *Package
	}
	pairs := make([]pair, len(pkgs))
	for i := range pkgs {
		it, err := newItem(arch, &pkgs[i])
		if err != nil {
			return nil, nil, err
		}
		pairs[i] = pair{it, &pkgs[i]}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return compareItems(a.it, b.it) })
	items := make([]*item, len(pairs))
	sorted := make([]*Package, len(pairs))
	for i, pr := range pairs {
		items[i], sorted[i] = pr.it, pr.p
		if i > 0 && compareItems(items[i-1], items[i]) == 0 {
			return nil, nil, errSameVersion(items[i-1], items[i])
		}
	}
	return items, sorted, nil
}

// PackageKey names a package of an index as a removal does.
type PackageKey struct{ Name, Version, Arch string }

// Apply returns the index with removes taken out, then adds put in. A
// removal names a package by its exact name, version and architecture;
// one the index does not hold is ignored. Adding a package the index holds
// already with the same stanza changes nothing; a different package that
// apt would see as the same name, version and architecture is an error,
// as it is for NewIndex.
func (ix *Index) Apply(adds []Package, removes []PackageKey) (*Index, error) {
	items := slices.Clone(ix.items)
	for _, k := range removes {
		probe := &item{name: k.Name, version: k.Version, arch: k.Arch}
		var err error
		if probe.ver, err = parseVersion(k.Version); err != nil {
			continue // no stored package has a version that does not parse
		}
		if i, found := slices.BinarySearchFunc(items, probe, compareItems); found && items[i].version == k.Version {
			items = slices.Delete(items, i, i+1)
		}
	}
	for i := range adds {
		it, err := newItem(ix.arch, &adds[i])
		if err != nil {
			return nil, fmt.Errorf("%s/binary-%s: %w", ix.component, ix.arch, err)
		}
		it.text = appendStanza(make([]byte, 0, stanzaSize(&adds[i])), &adds[i])
		j, found := slices.BinarySearchFunc(items, it, compareItems)
		switch {
		case !found:
			items = slices.Insert(items, j, it)
		case !bytes.Equal(items[j].text, it.text):
			return nil, fmt.Errorf("%s/binary-%s: %w", ix.component, ix.arch, errSameVersion(items[j], it))
		}
	}
	size := 0
	for _, it := range items {
		size += len(it.text)
	}
	plain := make([]byte, 0, size)
	for _, it := range items {
		plain = append(plain, it.text...)
	}
	return newIndex(ix.component, ix.arch, items, plain, ix), nil
}

// newIndex returns the index of the sorted items, whose texts make plain,
// reusing the compressed chunks of parent, if any, that are unchanged.
func newIndex(component, arch string, items []*item, plain []byte, parent *Index) *Index {
	var gz, xz []*chunk
	if parent != nil {
		gz, xz = parent.gzChunks, parent.xzChunks
	}
	ix := &Index{component: component, arch: arch, items: items, plain: plain,
		gzChunks: chunkItems(items, gz, gzChunkStanzas), xzChunks: chunkItems(items, xz, xzChunkStanzas)}
	ix.sums.ready = make(chan struct{})
	ix.sums.md5States, ix.sums.sha256States = inheritSums(ix.gzChunks, parent)
	return ix
}

// Len is the number of packages in the index.
func (ix *Index) Len() int { return len(ix.items) }

// Size is the length of the uncompressed Packages file.
func (ix *Index) Size() int { return len(ix.plain) }

// Files returns Packages and one file per compression, in the given order,
// with their digests. The compressed variants are produced concurrently.
// No packages yields an empty Packages file and valid empty compressed
// files.
func (ix *Index) Files(compressions []Compression) ([]IndexFile, error) {
	for i, c := range compressions {
		if c != Gzip && c != XZ {
			return nil, fmt.Errorf("unsupported compression %q (want %q or %q)", c, Gzip, XZ)
		}
		for _, d := range compressions[:i] {
			if c == d {
				return nil, fmt.Errorf("compression %q given twice", c)
			}
		}
	}
	files := make([]IndexFile, 1+len(compressions))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, c := range append([]Compression{None}, compressions...) {
		wg.Go(func() { files[i], errs[i] = ix.File(c) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return files, nil
}

// File returns one file of the index: Packages for None, else its
// compressed variant, with its digests. Each file is ready as soon as its
// own bytes are, so a caller can upload it while the others are produced.
func (ix *Index) File(c Compression) (IndexFile, error) {
	base := ix.component + "/binary-" + ix.arch + "/Packages"
	var data []byte
	var err error
	switch c {
	case None:
		return ix.describePlain(base), nil
	case Gzip:
		data = ix.gzip()
	case XZ:
		data, err = ix.xz()
	default:
		return IndexFile{}, fmt.Errorf("unsupported compression %q (want %q, %q or %q)", c, None, Gzip, XZ)
	}
	if err != nil {
		return IndexFile{}, fmt.Errorf("%s: %w", base, err)
	}
	return describe(base+"."+string(c), data), nil
}

// checkComponent rejects component names that would escape dists/<release>/
// or break the Release file's Components line.
func checkComponent(c string) error {
	if c == "" {
		return fmt.Errorf("component is empty")
	}
	for _, seg := range strings.Split(c, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("component %q: empty, . or .. path segment", c)
		}
		for _, ch := range []byte(seg) {
			if !isAlnum(ch) && ch != '-' && ch != '_' && ch != '.' && ch != '+' {
				return fmt.Errorf("component %q may contain only letters, digits, / and - _ . +", c)
			}
		}
	}
	return nil
}

// describe returns the IndexFile for data with the digests the Release
// lists, computed concurrently: on a large index hashing costs more than
// compressing.
func describe(path string, data []byte) IndexFile {
	f := IndexFile{Path: path, Data: data, Size: int64(len(data))}
	sums := []struct {
		dst *string
		new func() hash.Hash
	}{{&f.MD5, md5.New}, {&f.SHA256, sha256.New}}
	var wg sync.WaitGroup
	for _, s := range sums {
		wg.Go(func() {
			h := s.new()
			h.Write(data)
			*s.dst = hex.EncodeToString(h.Sum(nil))
		})
	}
	wg.Wait()
	return f
}
