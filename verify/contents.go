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
			if a.Files == nil {
				return fmt.Errorf("%s: the round gives no file list for %s %s %s", next[k].gz.Path, a.Name, a.Version, a.Architecture)
			}
			control, err := apt.ParseParagraph([]byte(a.Control))
			if err != nil {
				return fmt.Errorf("change %d adds %s: its control paragraph: %w", c.ID, a.SHA256, err)
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
	var before []apt.ContentsLine
	if had {
		var err error
		if before, _, err = fetchContents(ctx, f, k, old.gz); err != nil {
			return fmt.Errorf("the previous %s: %w", old.gz.Path, err)
		}
	}
	after, text, err := fetchContents(ctx, f, k, cur.gz)
	if err != nil {
		return fmt.Errorf("%s: %w", cur.gz.Path, err)
	}
	if sum := sha256.Sum256(text); cur.plain.Path != "" && (cur.plain.Size != int64(len(text)) || cur.plain.SHA256 != hex.EncodeToString(sum[:])) {
		return fmt.Errorf("%s is not what %s decompresses to", cur.plain.Path, cur.gz.Path)
	}
	return diffContents(cur.gz.Path, before, after, added, touched, fresh)
}

// diffContents walks both indexes in path order and checks each pair that
// differs; in a fresh index (Contents just turned on) only that the
// additions are listed.
func diffContents(name string, before, after []apt.ContentsLine, added map[string][]string, touched map[string]bool, fresh bool) error {
	isAdded := func(p, q string) bool { return slices.Contains(added[p], q) }
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		var was, is []string
		var p string
		switch {
		case j == len(after) || (i < len(before) && before[i].Path < after[j].Path):
			p, was = before[i].Path, before[i].Names
			i++
		case i == len(before) || after[j].Path < before[i].Path:
			p, is = after[j].Path, after[j].Names
			j++
		default:
			p, was, is = before[i].Path, before[i].Names, after[j].Names
			i, j = i+1, j+1
		}
		for _, q := range is {
			if !fresh && !slices.Contains(was, q) && !isAdded(p, q) {
				return fmt.Errorf("%s lists %s under %s, which no package the round adds holds", name, p, q)
			}
		}
		for _, q := range was {
			if !slices.Contains(is, q) && !touched[q[strings.LastIndexByte(q, '/')+1:]] {
				return fmt.Errorf("%s drops %s from %s, of which the round neither adds nor removes a version", name, p, q)
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(added)) {
		k, found := slices.BinarySearchFunc(after, p, func(l apt.ContentsLine, p string) int { return strings.Compare(l.Path, p) })
		for _, q := range added[p] {
			if !found || !slices.Contains(after[k].Names, q) {
				return fmt.Errorf("%s does not list %s under %s, which the round adds", name, p, q)
			}
		}
	}
	return nil
}

// fetchContents reads a listed Contents-<arch>.gz by hash, checks it and
// returns it parsed and as text.
func fetchContents(ctx context.Context, f Fetcher, k indexPair, file apt.IndexFile) ([]apt.ContentsLine, []byte, error) {
	if file.Size > maxIndexSize {
		return nil, nil, fmt.Errorf("listed with %d bytes, more than the %d a signer reads", file.Size, int64(maxIndexSize))
	}
	data, err := f.ByHash(ctx, k.component, file.SHA256, file.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch by hash: %w", err)
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != file.Size || hex.EncodeToString(sum[:]) != file.SHA256 {
		return nil, nil, fmt.Errorf("fetched by hash %s, it is not what the Release lists (%d bytes, SHA256 %x)", file.SHA256, len(data), sum)
	}
	text, err := decompress(gzName, data, maxContentsSize, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("decompress: %w", err)
	}
	lines, err := apt.ParseContents(text)
	return lines, text, err
}
