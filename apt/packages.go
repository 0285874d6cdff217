package apt

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ArchAll is the architecture of architecture-independent packages, which
// apt looks for in every binary-<arch> index.
const ArchAll = "all"

// Package is one entry of a Packages index, as stored when the .deb was
// accepted: the index is generated from it without reading the .deb again.
type Package struct {
	Control  Paragraph // the control paragraph as uploaded (Control.Paragraph of ReadDeb)
	Filename string    // pool path relative to the repository root (PoolPath)
	Size     int64
	// Digests of the .deb, lowercase hex.
	MD5, SHA1, SHA256, SHA512 string
}

// Name returns the Package field.
func (p *Package) Name() string { return p.Control.Get("Package") }

// Version returns the Version field.
func (p *Package) Version() string { return p.Control.Get("Version") }

// Arch returns the Architecture field.
func (p *Package) Arch() string { return p.Control.Get("Architecture") }

// SplitByArch distributes one component's packages over the binary-<arch>
// indexes of archs: a package goes to the index of its architecture, and
// Architecture: all packages go to every index. Every arch in archs gets an
// entry, empty if need be, because an index that exists in Release must be
// published even when it lists nothing. Packages of an architecture not in
// archs are left out.
//
// If archs contains "all", binary-all gets the Architecture: all packages
// (in addition to every other index); apt then downloads them twice, so a
// release normally does not list "all".
func SplitByArch(pkgs []Package, archs []string) map[string][]Package {
	out := make(map[string][]Package, len(archs))
	for _, a := range archs {
		out[a] = []Package{}
	}
	for _, p := range pkgs {
		pa := p.Arch()
		for _, a := range archs {
			if pa == a || (pa == ArchAll && a != ArchAll) {
				out[a] = append(out[a], p)
			}
		}
	}
	return out
}

// fieldOrder is the order in which apt-ftparchive (apt 2.6,
// apt-pkg/tagfile-order.c) writes the fields of a Packages stanza; fields
// not listed follow in their original order. Names match case-insensitively
// and are written as spelled here. Matching apt-ftparchive field for field
// means a repository moved between aptq and Debian tools indexes identically.
var fieldOrder = [...]string{
	"Package", "Package-Type", "Architecture", "Subarchitecture", "Version",
	"Kernel-Version", "Built-Using", "Static-Built-Using", "Built-For-Profiles",
	"Auto-Built-Package", "Multi-Arch", "Status", "Priority", "Build-Essential",
	"Protected", "Important", "Essential", "Installer-Menu-Item", "Section",
	"Source", "Origin", "Phased-Update-Percentage", "Maintainer",
	"Original-Maintainer", "Bugs", "Config-Version", "Conffiles",
	"Triggers-Awaited", "Triggers-Pending", "Installed-Size", "Provides",
	"Pre-Depends", "Depends", "Recommends", "Suggests", "Conflicts", "Breaks",
	"Replaces", "Enhances", "Filename", "MSDOS-Filename", "Size", "MD5sum",
	"SHA1", "SHA256", "SHA512", "Homepage", "Description", "Description-md5",
	"Tag", "Task",
}

// Ranks in fieldOrder of the fields that the index, not the .deb, supplies,
// and of Status, which apt-ftparchive drops (it describes an installation).
var (
	rankFilename = fieldRank["filename"]
	rankSize     = fieldRank["size"]
	rankMD5      = fieldRank["md5sum"]
	rankSHA1     = fieldRank["sha1"]
	rankSHA256   = fieldRank["sha256"]
	rankSHA512   = fieldRank["sha512"]
	rankStatus   = fieldRank["status"]
)

// fieldRank maps a lowercased field name to its index in fieldOrder;
// exactRank does the same for the canonical spelling, which is what nearly
// every control file uses, so that the common case does not allocate.
var fieldRank, exactRank = func() (map[string]int, map[string]int) {
	lower := make(map[string]int, len(fieldOrder))
	exact := make(map[string]int, len(fieldOrder))
	for i, name := range fieldOrder {
		lower[strings.ToLower(name)] = i
		exact[name] = i
	}
	return lower, exact
}()

func rankOf(name string) (int, bool) {
	if r, ok := exactRank[name]; ok {
		return r, true
	}
	r, ok := fieldRank[strings.ToLower(name)]
	return r, ok
}

// stanzaSize is an upper bound of the rendered size of p, so that the
// index buffer is allocated once.
func stanzaSize(p *Package) int {
	n := 1 + len("Filename: \nSize: \nMD5sum: \nSHA1: \nSHA256: \nSHA512: \n") +
		len(p.Filename) + 20 + len(p.MD5) + len(p.SHA1) + len(p.SHA256) + len(p.SHA512)
	for _, f := range p.Control {
		n += len(f.Name) + len(f.Value) + 3
	}
	return n
}

// appendStanza renders p as apt-ftparchive would, followed by the blank
// line that ends a stanza. Control fields named like the index fields
// (Filename, Size, MD5sum, SHA*) are replaced by the index's values, and
// Status is dropped, as apt-ftparchive does. Empty digests are left out.
func appendStanza(b []byte, p *Package) []byte {
	// slot[r] is 1 + the index in p.Control of the field of rank r.
	var slot [len(fieldOrder)]int
	unordered := make([]int, 0, 4)
	for i, f := range p.Control {
		if r, ok := rankOf(f.Name); ok {
			slot[r] = i + 1
		} else {
			unordered = append(unordered, i)
		}
	}
	for r, name := range fieldOrder {
		switch r {
		case rankFilename:
			b = appendIndexField(b, name, p.Filename)
		case rankSize:
			b = append(b, "Size: "...)
			b = strconv.AppendInt(b, p.Size, 10)
			b = append(b, '\n')
		case rankMD5:
			b = appendIndexField(b, name, p.MD5)
		case rankSHA1:
			b = appendIndexField(b, name, p.SHA1)
		case rankSHA256:
			b = appendIndexField(b, name, p.SHA256)
		case rankSHA512:
			b = appendIndexField(b, name, p.SHA512)
		case rankStatus:
		default:
			if i := slot[r]; i > 0 {
				b = appendField(b, name, p.Control[i-1].Value)
			}
		}
	}
	for _, i := range unordered {
		b = appendField(b, p.Control[i].Name, p.Control[i].Value)
	}
	return append(b, '\n')
}

// appendIndexField writes a field the index supplies, leaving out digests
// the caller does not have (apt-ftparchive, too, writes only those it has).
func appendIndexField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendField(b, name, value)
}

// item is one package of an Index: its sort key, extracted once so that
// sorting compares strings and never re-parses, and its rendered stanza.
type item struct {
	name, version, arch string
	ver                 version
	text                []byte // the stanza, blank line included
	hash                uint64 // chunkHash of the package: where chunks end
}

// newItem checks p for binary-<arch> and extracts its sort key; the text
// is rendered by the caller.
func newItem(arch string, p *Package) (*item, error) {
	it := &item{name: p.Name(), version: p.Version(), arch: p.Arch()}
	if it.name == "" || it.arch == "" || p.Filename == "" {
		return nil, fmt.Errorf("package %q: Package, Architecture and Filename are required", it.name)
	}
	if err := it.key(arch); err != nil {
		return nil, err
	}
	return it, nil
}

// key checks that the item belongs in binary-<arch> and sets its sort key
// and chunk hash from its name, version and architecture.
func (it *item) key(arch string) error {
	if it.arch != arch && it.arch != ArchAll {
		return fmt.Errorf("package %s has architecture %s, which does not belong in binary-%s", it.name, it.arch, arch)
	}
	var err error
	if it.ver, err = parseVersion(it.version); err != nil {
		return fmt.Errorf("package %s: version %q: %w", it.name, it.version, err)
	}
	it.hash = chunkHash(it.name, it.version, it.arch)
	return nil
}

func compareItems(a, b *item) int {
	if c := strings.Compare(a.name, b.name); c != 0 {
		return c
	}
	if c := a.ver.compare(b.ver); c != 0 {
		return c
	}
	return strings.Compare(a.arch, b.arch)
}

// errSameVersion reports two packages apt could not tell apart.
func errSameVersion(a, b *item) error {
	return fmt.Errorf("packages %s %s %s and %s %s are the same version for apt",
		a.name, a.version, a.arch, b.version, b.arch)
}

// renderChunk is the number of stanzas below which rendering on several
// goroutines costs more than it saves.
const renderChunk = 2048

// renderPackages returns the uncompressed Packages file of the sorted
// items (pkgs[i] is the package of items[i]) and points every item's text
// at its stanza in it. Large indexes are rendered in chunks on all CPUs,
// each chunk into its own region of one buffer sized from stanzaSize's
// upper bounds; the regions are then closed up, which copies within memory
// already touched.
func renderPackages(items []*item, pkgs []*Package) []byte {
	return renderParallel(items, pkgs, min(runtime.GOMAXPROCS(0), len(items)/renderChunk))
}

// renderParallel is renderPackages on the given number of goroutines.
func renderParallel(items []*item, pkgs []*Package, workers int) []byte {
	if workers <= 1 {
		return pointTexts(items, renderStanzas(nil, items, pkgs))
	}
	per := (len(items) + workers - 1) / workers
	starts := make([]int, workers+1) // region i is buf[starts[i]:starts[i+1]]
	for i := range workers {
		for _, p := range pkgs[i*per : min((i+1)*per, len(pkgs))] {
			starts[i+1] += stanzaSize(p)
		}
		starts[i+1] += starts[i]
	}
	buf := make([]byte, starts[workers])
	ends := make([]int, workers)
	var (
		wg       sync.WaitGroup
		overflow atomic.Bool
	)
	for i := range workers {
		wg.Go(func() {
			lo, hi := i*per, min((i+1)*per, len(items))
			region := buf[starts[i]:starts[i]:starts[i+1]]
			out := renderStanzas(region, items[lo:hi], pkgs[lo:hi])
			// A region that had to grow was not filled in place.
			// stanzaSize makes that impossible; the check keeps a
			// future mistake there from publishing a corrupt index.
			if cap(out) != cap(region) {
				overflow.Store(true)
			}
			ends[i] = starts[i] + len(out)
		})
	}
	wg.Wait()
	if overflow.Load() {
		return pointTexts(items, renderStanzas(nil, items, pkgs))
	}
	n := ends[0]
	for i := 1; i < workers; i++ {
		n += copy(buf[n:], buf[starts[i]:ends[i]])
	}
	return pointTexts(items, buf[:n])
}

// renderStanzas appends the stanzas of pkgs to b, growing it at most once
// (never, if b has room for stanzaSize of every package), and sets each
// item's text to its stanza's length (pointTexts points it afterwards).
func renderStanzas(b []byte, items []*item, pkgs []*Package) []byte {
	if b == nil {
		size := 0
		for _, p := range pkgs {
			size += stanzaSize(p)
		}
		b = make([]byte, 0, size)
	}
	for i, p := range pkgs {
		start := len(b)
		b = appendStanza(b, p)
		items[i].text = b[start:]
	}
	return b
}

// pointTexts points the items' texts, which hold their stanzas' lengths,
// at their place in plain, the stanzas in order.
func pointTexts(items []*item, plain []byte) []byte {
	off := 0
	for _, it := range items {
		n := len(it.text)
		it.text = plain[off : off+n : off+n]
		off += n
	}
	return plain
}
