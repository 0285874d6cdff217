package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/aptq/aptq/apt"
)

// Contents indices (<component>/Contents-<arch>.gz) list, per path, the
// packages that hold it, by [section/]name only. The signer checks them
// against the previous generation's as a set of (path, name) pairs:
//   - every pair the new index has and the previous one lacks is a file of
//     a package the round adds (its file list: read from the .deb for the
//     signer's own packages, else as the round view gives it);
//   - every file of every package the round adds is listed;
//   - every pair the previous index has and the new one lacks names a
//     package of which the round removes or adds a version.
//
// It cannot prove that a removal took away every path of the removed
// version (another version of the same name may hold it), nor anything
// about the files of another client's package beyond what the server says
// (as for its Packages stanza: the file list is not in the stanza).

// maxContentsSize bounds what the signer decompresses of a Contents index:
// Debian's largest is under 1 GB uncompressed.
const maxContentsSize = 1 << 30

// withOwnFiles returns the changes with the file list of each package the
// signer uploaded as it read it from the .deb (checkChanges has refused a
// different one the server gave).
func withOwnFiles(changes []Change, own map[string][]string) []Change {
	out := slices.Clone(changes)
	for i := range out {
		out[i].Adds = slices.Clone(out[i].Adds)
		for j, a := range out[i].Adds {
			if files, ok := own[a.SHA256]; ok {
				out[i].Adds[j].Files = files
			}
		}
	}
	return out
}

// splitContents returns the Release's Contents files by component and
// architecture, and the Release with its other files only.
func splitContents(r *apt.Release) (*apt.Release, map[indexPair]*contentsFiles, error) {
	contents := map[indexPair]*contentsFiles{}
	if r == nil {
		return nil, contents, nil
	}
	rest := *r
	rest.Files = nil
	for _, f := range r.Files {
		comp, name := path.Split(f.Path)
		arch, ok := strings.CutPrefix(name, "Contents-")
		if !ok {
			rest.Files = append(rest.Files, f)
			continue
		}
		arch, gz := strings.CutSuffix(arch, ".gz")
		comp = strings.TrimSuffix(comp, "/")
		if !slices.Contains(r.Meta.Components, comp) || !slices.Contains(r.Meta.Architectures, arch) {
			return nil, nil, fmt.Errorf("%s is not a Contents index of the release's components and architectures", f.Path)
		}
		if f.SHA256 == "" {
			return nil, nil, fmt.Errorf("%s has no SHA256", f.Path)
		}
		k := indexPair{comp, arch}
		if contents[k] == nil {
			contents[k] = &contentsFiles{}
		}
		if gz {
			contents[k].gz = f
		} else {
			contents[k].plain = f
		}
	}
	for k, c := range contents {
		if c.gz.Path == "" {
			return nil, nil, fmt.Errorf("%s/Contents-%s is listed without its .gz", k.component, k.arch)
		}
	}
	return &rest, contents, nil
}

// contentsFiles are the Contents-<arch>.gz a Release lists and, if listed,
// the uncompressed Contents-<arch> it decompresses to.
type contentsFiles struct{ plain, gz apt.IndexFile }

func (c *contentsFiles) same(o *contentsFiles) bool {
	return c.gz.SHA256 == o.gz.SHA256 && c.gz.Size == o.gz.Size && c.plain.SHA256 == o.plain.SHA256 && c.plain.Size == o.plain.Size
}

// indexPair is a component × architecture.
type indexPair struct{ component, arch string }

// checkContents checks every Contents index the new Release lists.
// A listed update that turns Contents off lets the indices go; one that
// turns them on lets new ones list what the signer cannot check (the files
// of the packages already published), and only the round's additions are
// checked in them.
func checkContents(ctx context.Context, prev, next map[indexPair]*contentsFiles, changes []Change, f Fetcher) error {
	var turned *bool // the last listed update's Contents
	for _, c := range changes {
		if c.Update != nil && c.Update.Contents != nil {
			turned = c.Update.Contents
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(prev), comparePairs) {
		if _, ok := next[k]; !ok && (turned == nil || *turned) {
			return fmt.Errorf("the Release to sign drops %s", prev[k].gz.Path)
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(next), comparePairs) {
		fresh := prev[k] == nil && turned != nil && *turned
		if err := checkContentsIndex(ctx, k, prev, next, changes, fresh, f); err != nil {
			return err
		}
	}
	return nil
}

func comparePairs(a, b indexPair) int {
	return strings.Compare(a.component+"\x00"+a.arch, b.component+"\x00"+b.arch)
}

// checkContentsIndex checks one Contents index (see the rules above).
func checkContentsIndex(ctx context.Context, k indexPair, prev, next map[indexPair]*contentsFiles, changes []Change,
	fresh bool, f Fetcher) error {
	added := map[string][]string{} // path → qualified names added there
	touched := map[string]bool{}   // names of which the round adds or removes a version
	for _, c := range changes {
		for _, a := range c.Adds {
			if a.Component != k.component || (a.Architecture != k.arch && a.Architecture != apt.ArchAll) {
				continue
			}
			control, err := apt.ParseParagraph([]byte(a.Control))
			if err != nil {
				return fmt.Errorf("change %d adds %s: its control paragraph: %w", c.ID, a.SHA256, err)
			}
			if apt.IsUdeb(control) {
				continue // Contents lists no udebs, as Debian's
			}
			if a.Files == nil {
				return fmt.Errorf("%s: the round gives no file list for %s %s %s", next[k].gz.Path, a.Name, a.Version, a.Architecture)
			}
			q := apt.QualifiedName(control.Get("Section"), a.Name)
			for _, p := range a.Files {
				added[p] = append(added[p], q)
			}
			touched[a.Name] = true
		}
		for _, r := range c.Removes {
			if r.Component == k.component {
				touched[r.Name] = true
			}
		}
	}
	old, had := prev[k]
	cur := next[k]
	if had && old.same(cur) && len(added) == 0 && len(touched) == 0 {
		return nil
	}
	// The new index is fetched while the previous one is decoded, which
	// records where its deflate blocks end: the new one is then decoded
	// only where it differs (gunzipLike).
	var data []byte
	var fetchErr error
	var fetched sync.WaitGroup
	fetched.Go(func() { data, fetchErr = fetchContentsGz(ctx, f, k, cur.gz) })
	var before []byte
	var trace *gzipTrace
	var prevErr error
	if had {
		before, trace, prevErr = previousContents(ctx, f, k, old)
	}
	fetched.Wait()
	if prevErr != nil {
		return fmt.Errorf("the previous %s: %w", old.gz.Path, prevErr)
	}
	if fetchErr != nil {
		return fmt.Errorf("%s: %w", cur.gz.Path, fetchErr)
	}
	after, err := gunzipLike(data, before, trace, maxContentsSize, cur.plain.Size)
	if err != nil {
		return fmt.Errorf("%s: decompress: %w", cur.gz.Path, err)
	}
	allowed := added
	if !had && !fresh {
		// A new architecture's index lists the component's Architecture:
		// all packages, whose files a previous index of it lists.
		if sib := siblingContents(prev, k); sib != nil {
			text, err := fetchContents(ctx, f, indexPair{k.component, sib.arch}, prev[*sib])
			if err != nil {
				return fmt.Errorf("the previous %s: %w", prev[*sib].gz.Path, err)
			}
			if allowed, err = withSiblingPairs(added, text); err != nil {
				return fmt.Errorf("the previous %s: %w", prev[*sib].gz.Path, err)
			}
		}
	}
	// The listed uncompressed index is hashed beside the walk.
	sumOK := true
	var summed sync.WaitGroup
	if cur.plain.Path != "" {
		summed.Go(func() { sumOK = hasDigest(&after, cur.plain) })
	}
	err = diffContents(after, added, allowed, touched, fresh)
	summed.Wait()
	if !sumOK {
		return fmt.Errorf("%s is not what %s decompresses to", cur.plain.Path, cur.gz.Path)
	}
	if err != nil {
		return fmt.Errorf("%s %w", cur.gz.Path, err)
	}
	return nil
}

// hasDigest says whether text has the size and SHA256 f is listed with.
func hasDigest(text *likeText, f apt.IndexFile) bool {
	if f.Size != int64(text.size) {
		return false
	}
	h := sha256.New()
	for _, p := range text.pieces() {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil)) == f.SHA256
}

// siblingContents is, for an index new in this generation, the previous
// index of its component whose architecture sorts first; nil if none.
func siblingContents(prev map[indexPair]*contentsFiles, k indexPair) *indexPair {
	var out *indexPair
	for p := range prev {
		if p.component == k.component && (out == nil || p.arch < out.arch) {
			out = &p
		}
	}
	return out
}

// withSiblingPairs returns allowed with every (path, name) pair of a
// previous index of the component: a new index may list them as if the
// round added them (the signer cannot tell which are Architecture: all,
// but none is new to the repository).
func withSiblingPairs(allowed map[string][]string, text []byte) (map[string][]string, error) {
	out := maps.Clone(allowed)
	l := &lines{text: text}
	for {
		if err := l.next(); err != nil {
			return nil, err
		}
		if l.path == nil {
			return out, nil
		}
		line, err := apt.ParseContentsLine(l.line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", l.no(), err)
		}
		out[line.Path] = append(slices.Clone(out[line.Path]), line.Names...)
	}
}

// fetchContents reads a listed Contents-<arch>.gz by hash, checks it and
// returns it decompressed.
func fetchContents(ctx context.Context, f Fetcher, k indexPair, files *contentsFiles) ([]byte, error) {
	data, err := fetchContentsGz(ctx, f, k, files.gz)
	if err != nil {
		return nil, err
	}
	text, err := decompress(gzName, data, maxContentsSize, files.plain.Size)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return text, nil
}

// previousContents reads the previous generation's Contents-<arch>.gz as
// fetchContents does, and its trace if aptq wrote it (see gzip.go).
func previousContents(ctx context.Context, f Fetcher, k indexPair, files *contentsFiles) ([]byte, *gzipTrace, error) {
	data, err := fetchContentsGz(ctx, f, k, files.gz)
	if err != nil {
		return nil, nil, err
	}
	text, trace, err := traceGzip(data, maxContentsSize, files.plain.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("decompress: %w", err)
	}
	return text, trace, nil
}

// fetchContentsGz fetches a listed Contents-<arch>.gz by hash and checks
// it against the Release.
func fetchContentsGz(ctx context.Context, f Fetcher, k indexPair, file apt.IndexFile) ([]byte, error) {
	if file.Size > maxIndexSize {
		return nil, fmt.Errorf("listed with %d bytes, more than the %d a signer reads", file.Size, int64(maxIndexSize))
	}
	data, err := f.ByHash(ctx, k.component, file.SHA256, file.Size)
	if err != nil {
		return nil, fmt.Errorf("fetch by hash: %w", err)
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != file.Size || hex.EncodeToString(sum[:]) != file.SHA256 {
		return nil, fmt.Errorf("fetched by hash %s, it is not what the Release lists (%d bytes, SHA256 %x)", file.SHA256, len(data), sum)
	}
	return data, nil
}
