package apt

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
)

// ContentsFileName is the name of a component's Contents index of arch,
// which aptq stores gzip-compressed only, as Debian does. apt-file reads it
// through apt's Acquire::IndexTargets ("$(COMPONENT)/Contents-$(ARCH)"),
// and apt skips that optional target unless the Release lists the
// uncompressed name too: it is listed (ContentsPlainName), not stored.
func ContentsFileName(arch string) string { return ContentsPlainName(arch) + ".gz" }

// ContentsPlainName is the name of the uncompressed Contents index of arch.
func ContentsPlainName(arch string) string { return "Contents-" + arch }

// ContentsPackage is a package as a Contents index lists it: by its
// qualified name ([section/]name) under each of its files.
type ContentsPackage struct {
	Key     PackageKey
	Section string
	// Files is the package's file list, sorted and unique (ReadDebFiles).
	Files []string
}

// Qualified is the name a Contents line lists the package under: its
// section and name ("devel/hello"), or its name alone when its section is
// empty or not one word of the characters Debian's sections use.
func (p *ContentsPackage) Qualified() string { return QualifiedName(p.Section, p.Key.Name) }

// QualifiedName is ContentsPackage.Qualified for a section and name.
func QualifiedName(section, name string) string {
	if section == "" {
		return name
	}
	for _, ch := range []byte(section) {
		if !isAlnum(ch) && ch != '/' && ch != '-' && ch != '+' && ch != '.' && ch != '_' {
			return name
		}
	}
	return section + "/" + name
}

// Contents is one Contents-<arch> index of a component, kept in memory
// between rounds like Index: Apply renders only the lines of the paths its
// packages touch, and the gzip file is a series of independently
// compressed chunks of lines (as Packages.gz, see gzip.go), so a round
// recompresses only the chunks it changed. Its bytes depend only on the
// set of packages. A Contents is immutable; Apply returns a new one that
// shares the unchanged lines and chunks with its parent.
//
// A line is a path, a tab and the comma-separated qualified names of the
// packages that hold it, sorted; lines are sorted by path, and there is no
// header (Debian dropped it). It lists the packages of arch and of "all".
type Contents struct {
	component, arch string
	lines           []*contentsLine // sorted by path
	pkgs            map[PackageKey]*ContentsPackage
	chunks          []*contentsChunk
	sums            contentsSums
}

// contentsLine is one line: a path and, per qualified name, how many of
// the index's packages list the path under it (versions of one package
// share a name). A slice, not a map: an index holds hundreds of thousands
// of lines, most with one name.
type contentsLine struct {
	path  string
	names []nameCount // sorted by name
	text  []byte
	hash  uint64 // of path: the chunk boundaries
}

type nameCount struct {
	name string
	n    int32
}

// newContentsLine returns the line of path listing names, sorted.
func newContentsLine(path string, names []nameCount) *contentsLine {
	l := &contentsLine{path: path, names: names}
	l.text = append(append(make([]byte, 0, len(path)+32), path...), '\t')
	for i, nc := range l.names {
		if i > 0 {
			l.text = append(l.text, ',')
		}
		l.text = append(l.text, nc.name...)
	}
	l.text = append(l.text, '\n')
	h := fnv.New64a()
	h.Write([]byte(path))
	l.hash = h.Sum64()
	return l
}

// NewContents renders the Contents-<arch> of component from pkgs, which
// must be its packages of arch and "all", with their file lists. It sorts
// the (path, name) pairs of all packages at once: a rebuild of a large
// release is one sort, not an insertion per file.
func NewContents(component, arch string, pkgs []ContentsPackage) (*Contents, error) {
	ct := &Contents{component: component, arch: arch, pkgs: make(map[PackageKey]*ContentsPackage, len(pkgs))}
	if err := ct.check(); err != nil {
		return nil, err
	}
	type pair struct{ path, name string }
	n := 0
	for i := range pkgs {
		if err := ct.checkPackage(&pkgs[i]); err != nil {
			return nil, err
		}
		ct.pkgs[pkgs[i].Key] = &pkgs[i] // the last of a key wins, as in Apply
	}
	for _, p := range ct.pkgs {
		n += len(p.Files)
	}
	pairs := make([]pair, 0, n)
	for _, p := range ct.pkgs {
		q := p.Qualified()
		for _, f := range p.Files {
			pairs = append(pairs, pair{f, q})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for i := 0; i < len(pairs); {
		var names []nameCount
		j := i
		for ; j < len(pairs) && pairs[j].path == pairs[i].path; j++ {
			if k := len(names); k > 0 && names[k-1].name == pairs[j].name {
				names[k-1].n++
			} else {
				names = append(names, nameCount{pairs[j].name, 1})
			}
		}
		ct.lines = append(ct.lines, newContentsLine(pairs[i].path, names))
		i = j
	}
	ct.chunks = chunkLines(ct.lines, nil)
	return ct, nil
}

// check checks the index's component and architecture.
func (ct *Contents) check() error {
	if err := checkComponent(ct.component); err != nil {
		return err
	}
	if err := checkArchitecture(ct.arch); err != nil {
		return fmt.Errorf("architecture: %w", err)
	}
	return nil
}

// checkPackage checks that p belongs in the index and that its file list
// is sorted, unique paths that a Contents line can hold.
func (ct *Contents) checkPackage(p *ContentsPackage) error {
	if p.Key.Arch != ct.arch && p.Key.Arch != ArchAll {
		return fmt.Errorf("%s/Contents-%s: package %s is of architecture %s", ct.component, ct.arch, p.Key.Name, p.Key.Arch)
	}
	for j, f := range p.Files {
		if err := checkContentsPath(f); err != nil {
			return fmt.Errorf("%s/Contents-%s: package %s: %q: %w", ct.component, ct.arch, p.Key.Name, truncate(f), err)
		}
		if j > 0 && p.Files[j-1] >= f {
			return fmt.Errorf("%s/Contents-%s: package %s: file list not sorted and unique", ct.component, ct.arch, p.Key.Name)
		}
	}
	return nil
}

// Apply returns the index with removes taken out, then adds put in; a
// removal the index does not hold is ignored, and an addition of a package
// it holds replaces it.
func (ct *Contents) Apply(adds []ContentsPackage, removes []PackageKey) (*Contents, error) {
	if err := ct.check(); err != nil {
		return nil, err
	}
	pkgs := maps.Clone(ct.pkgs)
	delta := map[string]map[string]int{}
	count := func(p *ContentsPackage, by int) {
		q := p.Qualified()
		for _, f := range p.Files {
			d := delta[f]
			if d == nil {
				d = map[string]int{}
				delta[f] = d
			}
			d[q] += by
		}
	}
	for _, k := range removes {
		if p := pkgs[k]; p != nil {
			count(p, -1)
			delete(pkgs, k)
		}
	}
	for i := range adds {
		p := &adds[i]
		if err := ct.checkPackage(p); err != nil {
			return nil, err
		}
		if old := pkgs[p.Key]; old != nil {
			count(old, -1)
		}
		count(p, 1)
		pkgs[p.Key] = p
	}
	lines := mergeLines(ct.lines, delta)
	return &Contents{component: ct.component, arch: ct.arch, lines: lines, pkgs: pkgs,
		chunks: chunkLines(lines, ct.chunks), sums: contentsSums{parent: ct}}, nil
}

// mergeLines returns lines with the counts of delta applied: lines whose
// names change are new, the others shared.
func mergeLines(lines []*contentsLine, delta map[string]map[string]int) []*contentsLine {
	paths := slices.Sorted(maps.Keys(delta))
	out := make([]*contentsLine, 0, len(lines)+len(paths))
	i := 0
	for _, p := range paths {
		for i < len(lines) && lines[i].path < p {
			out = append(out, lines[i])
			i++
		}
		names := map[string]int{}
		if i < len(lines) && lines[i].path == p {
			for _, nc := range lines[i].names {
				names[nc.name] = int(nc.n)
			}
			i++
		}
		changed := false
		for q, n := range delta[p] {
			if n == 0 {
				continue
			}
			changed = true
			if names[q] += n; names[q] <= 0 {
				delete(names, q)
			}
		}
		switch {
		case len(names) == 0:
		case !changed:
			out = append(out, lines[i-1])
		default:
			counts := make([]nameCount, 0, len(names))
			for _, q := range slices.Sorted(maps.Keys(names)) {
				counts = append(counts, nameCount{q, int32(names[q])})
			}
			out = append(out, newContentsLine(p, counts))
		}
	}
	return append(out, lines[i:]...)
}

// Len is the number of lines (paths) of the index.
func (ct *Contents) Len() int { return len(ct.lines) }

// Packages is the number of packages the index holds.
func (ct *Contents) Packages() int { return len(ct.pkgs) }

// File returns <component>/Contents-<arch>.gz with its digests.
func (ct *Contents) File() IndexFile {
	return describe(ct.component+"/"+ContentsFileName(ct.arch), ct.gzip())
}

// Text is the uncompressed index.
func (ct *Contents) Text() []byte {
	n := 0
	for _, l := range ct.lines {
		n += len(l.text)
	}
	out := make([]byte, 0, n)
	for _, l := range ct.lines {
		out = append(out, l.text...)
	}
	return out
}
