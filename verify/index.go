package verify

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/aptq/aptq/apt"
)

// The files of an index directory <component>/binary-<arch>/ that a
// Release may list.
const (
	plainName = "Packages"
	gzName    = "Packages.gz"
	xzName    = "Packages.xz"
)

// maxIndexSize bounds what the signer reads or decompresses for one index
// file, whatever size the server lists: Debian's largest Packages file is
// under 100 MB.
const maxIndexSize = 1 << 30

// indexDir is one <component>/binary-<arch>/ with the files a Release
// lists in it, by name.
type indexDir struct {
	component, arch string
	files           map[string]apt.IndexFile
}

func (d *indexDir) path() string { return d.component + "/binary-" + d.arch }

// splitDirs groups a Release's files by index directory; a file that is not
// an index of one of its components and architectures is an error.
func splitDirs(r *apt.Release) (map[string]*indexDir, error) {
	dirs := map[string]*indexDir{}
	for _, f := range r.Files {
		slash := strings.LastIndexByte(f.Path, '/')
		dir, name := f.Path[:max(slash, 0)], f.Path[slash+1:]
		if isSourcesDir(dir) {
			continue // checked by checkSources
		}
		// comp is an index component: a udebs' index is in
		// <component>/debian-installer/binary-<arch>.
		comp, arch, ok := strings.Cut(dir, "/binary-")
		if slash < 0 || !ok || (name != plainName && name != gzName && name != xzName) ||
			!slices.Contains(r.Meta.Components, apt.ReleaseComponent(comp)) || !slices.Contains(r.Meta.Architectures, arch) {
			return nil, fmt.Errorf("%s is not an index of the release's components and architectures", f.Path)
		}
		if f.SHA256 == "" {
			return nil, fmt.Errorf("%s has no SHA256", f.Path)
		}
		d := dirs[dir]
		if d == nil {
			d = &indexDir{component: comp, arch: arch, files: map[string]apt.IndexFile{}}
			dirs[dir] = d
		}
		d.files[name] = f
	}
	return dirs, nil
}

// checkIndexes checks every index the new Release lists, concurrently.
func checkIndexes(ctx context.Context, prev, next *apt.Release, e map[string]apt.Edits, ret retention, f Fetcher) error {
	nextDirs, err := splitDirs(next)
	if err != nil {
		return fmt.Errorf("the Release to sign: %w", err)
	}
	prevDirs := map[string]*indexDir{}
	if prev != nil {
		if prevDirs, err = splitDirs(prev); err != nil {
			return fmt.Errorf("generation %d: %w", prev.Meta.Generation, err)
		}
	}
	// Sorted, so that the error names the same index every time.
	for _, p := range slices.Sorted(maps.Keys(prevDirs)) {
		d := prevDirs[p]
		if nextDirs[p] != nil {
			continue
		}
		// An index may go only with its component or architecture, which
		// checkFields has matched to the round's updates; a component goes
		// only empty.
		compKept := slices.Contains(next.Meta.Components, apt.ReleaseComponent(d.component))
		if compKept && slices.Contains(next.Meta.Architectures, d.arch) {
			return fmt.Errorf("the Release to sign drops index %s", p)
		}
		if !compKept && d.files[plainName].Size != 0 {
			return fmt.Errorf("the Release to sign drops component %s, whose index %s is not empty", d.component, p)
		}
	}
	paths := slices.Sorted(maps.Keys(nextDirs))
	errs := make([]error, len(paths))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c := &indexCheck{fetch: f, dir: nextDirs[p], prev: prevDirs[p], ret: ret, sibling: siblingOf(prevDirs, nextDirs[p])}
			errs[i] = c.run(ctx, e[nextDirs[p].component])
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// indexCheck checks one index directory against its previous generation.
type indexCheck struct {
	fetch Fetcher
	dir   *indexDir
	prev  *indexDir // nil: the index is new
	ret   retention
	// sibling is, for a new index, a previous index of its component.
	sibling *indexDir
}

func (c *indexCheck) run(ctx context.Context, e apt.Edits) error {
	adds, removes, touched := forIndex(e, c.dir.arch)
	if !touched && c.unchanged() {
		return nil
	}
	path := c.dir.path()
	// Everything at once, each step as soon as its input arrives: the
	// previous Packages → the expected one (the worker's Apply); the new
	// Packages.gz and .xz fetched, and the previous Packages.xz's Blocks.
	// The new files are checked against the expected Packages once it is
	// there, each decoding only what differs from the previous generation.
	var prevPlain, want []byte
	var prevGz *gzipTrace
	var wantSum [sha256.Size]byte
	var prevXZ []apt.XZBlock
	compressed := map[string][]byte{}
	var mu sync.Mutex
	errs := make([]error, 3)
	var wg sync.WaitGroup
	wg.Go(func() {
		if prevPlain, prevGz, errs[0] = c.previousPlain(ctx); errs[0] != nil {
			return
		}
		// Hashing the previous Packages runs beside rebuilding it.
		var sumErr error
		var summed sync.WaitGroup
		if c.prev != nil {
			summed.Go(func() { sumErr = checkSum(c.prev, prevPlain) })
		}
		if want, errs[0] = c.expected(prevPlain, adds, removes); errs[0] == nil {
			wantSum = sha256.Sum256(want)
		}
		summed.Wait()
		errs[0] = cmp.Or(errs[0], sumErr)
	})
	if _, ok := c.dir.files[xzName]; ok && c.prev != nil && !sameEntry(c.dir, c.prev, xzName) && c.prev.files[xzName].SHA256 != "" {
		// The Blocks of the last Packages.xz let the new one be checked by
		// decoding only the Blocks that differ.
		wg.Go(func() {
			if data, err := c.get(ctx, c.prev, xzName); err == nil {
				prevXZ, _ = apt.XZBlocks(data)
			}
		})
	}
	for i, name := range []string{gzName, xzName} {
		if _, ok := c.dir.files[name]; !ok || (c.prev != nil && sameEntry(c.dir, c.prev, name)) {
			continue
		}
		wg.Go(func() {
			data, err := c.get(ctx, c.dir, name)
			mu.Lock()
			compressed[name] = data
			mu.Unlock()
			errs[1+i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := c.ret.check(c.dir.component, c.dir.arch, prevPlain, want); err != nil {
		return err
	}
	if listed, ok := c.dir.files[plainName]; ok && (listed.Size != int64(len(want)) || listed.SHA256 != hex.EncodeToString(wantSum[:])) {
		return c.mismatch(ctx, want, compressed)
	}
	// A compressed file listed as before decodes, as before, to the
	// previous Packages, which must then be what the changes give.
	for name := range c.dir.files {
		if name != plainName && compressed[name] == nil && !bytes.Equal(prevPlain, want) {
			return fmt.Errorf("%s/%s is listed as in the previous generation, but the round's changes change the index", path, name)
		}
	}
	if data := compressed[gzName]; data != nil {
		if err := checkGzip(data, want, wantSum, prevGz); err != nil {
			return fmt.Errorf("%s/%s does not decompress to the Packages the round's changes give: %w", path, gzName, err)
		}
	}
	if data := compressed[xzName]; data != nil {
		if err := sameXZ(data, want, prevXZ, prevPlain); err != nil {
			return fmt.Errorf("%s/%s does not decompress to the Packages the round's changes give: %w", path, xzName, err)
		}
	}
	return nil
}

// expected applies the round's edits to the previous Packages with the
// worker's own code and returns the Packages they give.
func (c *indexCheck) expected(prevPlain []byte, adds []apt.Package, removes []apt.PackageKey) ([]byte, error) {
	base, err := apt.ParseIndex(c.dir.component, c.dir.arch, prevPlain)
	if err != nil {
		return nil, fmt.Errorf("the previous %s/Packages: %w", c.dir.path(), err)
	}
	ix, err := base.Apply(adds, removes)
	if err != nil {
		return nil, fmt.Errorf("the round's changes do not apply to the previous %s/Packages: %w", c.dir.path(), err)
	}
	return ix.Packages(), nil
}

// unchanged says whether the index lists the same files as before.
func (c *indexCheck) unchanged() bool {
	if c.prev == nil || len(c.prev.files) != len(c.dir.files) {
		return false
	}
	for name := range c.dir.files {
		if !sameEntry(c.dir, c.prev, name) {
			return false
		}
	}
	return true
}

// sameEntry says whether both list name with the same size and SHA256.
func sameEntry(a, b *indexDir, name string) bool {
	fa, okA := a.files[name]
	fb, okB := b.files[name]
	return okA && okB && fa.Size == fb.Size && fa.SHA256 == fb.SHA256
}

// get fetches a listed file by hash and checks its size and SHA256.
func (c *indexCheck) get(ctx context.Context, d *indexDir, name string) ([]byte, error) {
	return fetchListed(ctx, c.fetch, d.path(), d.files[name])
}

// fetchListed fetches file f of directory dir by hash and checks its size
// and SHA256 against what the Release lists.
func fetchListed(ctx context.Context, fetch Fetcher, dir string, f apt.IndexFile) ([]byte, error) {
	if f.Size > maxIndexSize {
		return nil, fmt.Errorf("%s is listed with %d bytes, more than the %d a signer reads", f.Path, f.Size, int64(maxIndexSize))
	}
	data, err := fetch.ByHash(ctx, dir, f.SHA256, f.Size)
	if err != nil {
		return nil, fmt.Errorf("fetch %s by hash: %w", f.Path, err)
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
		return nil, fmt.Errorf("%s fetched by hash %s is not what the Release lists (%d bytes, SHA256 %x)",
			f.Path, f.SHA256, len(data), sum)
	}
	return data, nil
}

// previousPlain returns the previous generation's Packages, empty for a new
// index (see plainOf), and its trace if it was read from Packages.gz. A new
// architecture of a component starts with the component's Architecture:
// all packages, which every index of it lists.
func (c *indexCheck) previousPlain(ctx context.Context) ([]byte, *gzipTrace, error) {
	if c.prev != nil {
		return c.plainOf(ctx, c.prev)
	}
	if c.sibling == nil {
		return nil, nil, nil
	}
	plain, _, err := c.plainOf(ctx, c.sibling)
	if err == nil {
		err = checkSum(c.sibling, plain)
	}
	if err != nil {
		return nil, nil, err
	}
	ix, err := apt.ParseIndex(c.sibling.component, c.sibling.arch, plain)
	if err != nil {
		return nil, nil, fmt.Errorf("the previous %s/Packages: %w", c.sibling.path(), err)
	}
	return ix.ArchAllPackages(), nil, nil
}

// plainOf returns the Packages of the previous generation's index d:
// decompressed from Packages.gz (traced, see gzip.go), else the file itself
// if it is stored, else decompressed from Packages.xz; checked against its
// listed size (its SHA256: checkSum).
func (c *indexCheck) plainOf(ctx context.Context, d *indexDir) ([]byte, *gzipTrace, error) {
	listed, hasPlain := d.files[plainName]
	var plain []byte
	var trace *gzipTrace
	switch _, hasGz := d.files[gzName]; {
	case hasGz:
		data, err := c.get(ctx, d, gzName)
		if err != nil {
			return nil, nil, err
		}
		if plain, trace, err = traceGzip(data, maxIndexSize, listed.Size); err != nil {
			return nil, nil, fmt.Errorf("the previous %s/%s: %w", d.path(), gzName, err)
		}
	case hasPlain:
		data, err := c.get(ctx, d, plainName)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return data, nil, err
		}
		fallthrough
	default:
		if _, ok := d.files[xzName]; !ok {
			return nil, nil, fmt.Errorf("generation lists no Packages file in %s", d.path())
		}
		data, err := c.get(ctx, d, xzName)
		if err != nil {
			return nil, nil, err
		}
		if plain, err = decompress(xzName, data, maxIndexSize, listed.Size); err != nil {
			return nil, nil, fmt.Errorf("the previous %s/%s: %w", d.path(), xzName, err)
		}
	}
	if hasPlain && listed.Size != int64(len(plain)) {
		return nil, nil, fmt.Errorf("the previous %s does not decompress to the listed Packages", d.path())
	}
	return plain, trace, nil
}

// checkSum checks a decompressed Packages of the previous generation's
// index d against the SHA256 listed for it, if any.
func checkSum(d *indexDir, plain []byte) error {
	listed, ok := d.files[plainName]
	if sum := sha256.Sum256(plain); ok && listed.SHA256 != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("the previous %s does not decompress to the listed Packages", d.path())
	}
	return nil
}

// sameXZ checks that an xz file decompresses to exactly want. A Block
// byte-identical to a Block of the previous generation's Packages.xz (prev,
// whose Blocks decode in order to prevPlain: that file's hash is in the
// signed previous Release) decodes to the same text and is not decoded
// again; the others are decoded on all CPUs.
func sameXZ(data, want []byte, prev []apt.XZBlock, prevPlain []byte) error {
	blocks, err := apt.XZBlocks(data)
	if err != nil {
		return err
	}
	reused := map[string][]byte{}
	off := int64(0)
	for _, b := range prev {
		off += b.Size
	}
	if off == int64(len(prevPlain)) {
		off = 0
		for _, b := range prev {
			reused[string(b.Raw)] = prevPlain[off : off+b.Size]
			off += b.Size
		}
	}
	starts := make([]int64, len(blocks)+1)
	for i, b := range blocks {
		starts[i+1] = starts[i] + b.Size
	}
	if starts[len(blocks)] != int64(len(want)) {
		return fmt.Errorf("its Blocks hold %d bytes, not %d", starts[len(blocks)], len(want))
	}
	errs := make([]error, len(blocks))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				text, ok := reused[string(blocks[i].Raw)]
				if !ok || int64(len(text)) != blocks[i].Size {
					if text, errs[i] = blocks[i].Decode(); errs[i] != nil {
						continue
					}
				}
				if !bytes.Equal(text, want[starts[i]:starts[i+1]]) {
					errs[i] = fmt.Errorf("block %d differs", i)
				}
			}
		})
	}
	for i := range blocks {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// decompress reads a whole compressed index, up to limit bytes; sizeHint
// is the size it is listed with (0: unknown), to allocate once.
func decompress(name string, data []byte, limit, sizeHint int64) ([]byte, error) {
	if name == xzName {
		blocks, err := apt.XZBlocks(data)
		if err != nil {
			return nil, err
		}
		total := int64(0)
		for _, b := range blocks {
			if total += b.Size; total > limit {
				return nil, fmt.Errorf("larger than %d bytes", limit)
			}
		}
		out := make([]byte, 0, total)
		for _, b := range blocks {
			text, err := b.Decode()
			if err != nil {
				return nil, err
			}
			out = append(out, text...)
		}
		return out, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	// The listed size, not the limit: a small index would pay for the
	// largest allowed. MinRead more, or ReadFrom doubles the buffer for
	// its last read.
	out.Grow(int(min(max(sizeHint, 0), limit)) + bytes.MinRead)
	if _, err := out.ReadFrom(io.LimitReader(zr, limit+1)); err != nil {
		return nil, err
	}
	if int64(out.Len()) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return out.Bytes(), nil
}

// plainDigest is what a compressed index decompresses to, by size and SHA256.
type plainDigest struct {
	size   int64
	sha256 [sha256.Size]byte
}

// digestGzip decompresses a Packages.gz, up to limit bytes, into its digest.
func digestGzip(data []byte, limit int64) (plainDigest, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return plainDigest{}, err
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(zr, limit+1))
	if err != nil {
		return plainDigest{}, err
	}
	if n > limit {
		return plainDigest{}, fmt.Errorf("larger than %d bytes", limit)
	}
	d := plainDigest{size: n}
	h.Sum(d.sha256[:0])
	return d, nil
}

// siblingOf returns, for an index the previous generation lacks, the
// previous index of the same component whose path sorts first; nil for an
// index that is not new or a component that is.
func siblingOf(prevDirs map[string]*indexDir, d *indexDir) *indexDir {
	if prevDirs[d.path()] != nil {
		return nil
	}
	var out *indexDir
	for p, pd := range prevDirs {
		if pd.component == d.component && (out == nil || p < out.path()) {
			out = pd
		}
	}
	return out
}
