package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/aptq/aptq/apt"
)

// isSourcesDir says whether an index directory is a <component>/source/.
func isSourcesDir(dir string) bool { return strings.HasSuffix(dir, "/source") }

// splitSources returns, per component, the Sources files a Release lists,
// by name; a Sources file of a component the Release does not have, or a
// file there that is not a Sources index, is an error.
func splitSources(r *apt.Release) (map[string]map[string]apt.IndexFile, error) {
	out := map[string]map[string]apt.IndexFile{}
	for _, f := range r.Files {
		dir, name := path.Split(f.Path)
		dir = strings.TrimSuffix(dir, "/")
		if !isSourcesDir(dir) {
			continue
		}
		comp := strings.TrimSuffix(dir, "/source")
		if !slices.Contains(r.Meta.Components, comp) || !slices.Contains(sourcesNames, name) {
			return nil, fmt.Errorf("%s is not a Sources index of the release's components", f.Path)
		}
		if f.SHA256 == "" {
			return nil, fmt.Errorf("%s has no SHA256", f.Path)
		}
		if out[comp] == nil {
			out[comp] = map[string]apt.IndexFile{}
		}
		out[comp][name] = f
	}
	return out, nil
}

var sourcesNames = []string{apt.SourcesFileName(apt.None), apt.SourcesFileName(apt.Gzip), apt.SourcesFileName(apt.XZ)}

// sourceEdits is what a round does to one component's Sources.
type sourceEdits struct {
	adds    []apt.Source
	removes []apt.SourceKey
}

// foldSources folds the round's source additions and removals into each
// component's net edits (the last change to name a source decides), and
// checks each addition: its stanza names the source and version the change
// says, lists the uploaded .dsc (by the SHA-256 the change adds, which the
// signer matches to its own uploads) and lives in the source's own pool
// directory.
func foldSources(changes []Change) (map[string]*sourceEdits, error) {
	type key struct {
		component string
		src       apt.SourceKey
	}
	last := map[key]*apt.Source{}
	var order []key
	set := func(k key, s *apt.Source) {
		if _, seen := last[k]; !seen {
			order = append(order, k)
		}
		last[k] = s
	}
	for _, c := range changes {
		for _, a := range c.Adds {
			if a.Architecture != apt.ArchSource {
				continue
			}
			s, err := sourceOfAdd(a)
			if err != nil {
				return nil, fmt.Errorf("change %d adds source %s %s: %w", c.ID, a.Name, a.Version, err)
			}
			set(key{a.Component, s.Key()}, s)
		}
		for _, r := range c.Removes {
			if r.Architecture == apt.ArchSource {
				set(key{r.Component, apt.SourceKey{Name: r.Name, Version: r.Version}}, nil)
			}
		}
	}
	out := map[string]*sourceEdits{}
	for _, k := range order {
		e := out[k.component]
		if e == nil {
			e = &sourceEdits{}
			out[k.component] = e
		}
		// An addition also replaces a listed source of that name and
		// version, as ApplySources does.
		if s := last[k]; s != nil {
			e.adds = append(e.adds, *s)
		} else {
			e.removes = append(e.removes, k.src)
		}
	}
	return out, nil
}

// sourceOfAdd is the Sources entry of a source a change adds.
func sourceOfAdd(a Add) (*apt.Source, error) {
	control, err := apt.ParseParagraph([]byte(a.Control))
	if err != nil {
		return nil, fmt.Errorf("its stanza: %w", err)
	}
	s := &apt.Source{Control: control, Directory: path.Dir(a.Filename)}
	if k := s.Key(); k != (apt.SourceKey{Name: a.Name, Version: a.Version}) {
		return nil, fmt.Errorf("its stanza says %s %s", k.Name, k.Version)
	}
	if want := apt.SourceDir(a.Component, a.Name); s.Directory != want || path.Base(a.Filename) != apt.DSCName(a.Name, a.Version) {
		return nil, fmt.Errorf("its .dsc is at %s, not in %s under its canonical name", a.Filename, want)
	}
	dscLine := a.SHA256 + " " + strconv.FormatInt(a.Size, 10) + " " + apt.DSCName(a.Name, a.Version)
	if !slices.Contains(strings.Split(control.Get("Checksums-Sha256"), "\n "), dscLine) {
		return nil, fmt.Errorf("its stanza does not list the uploaded .dsc (%s)", dscLine)
	}
	return s, nil
}

// checkSources checks every Sources index of the new Release: the
// previous generation's (fetched by the hash its signed Release lists) with
// the round's source edits applied, rendered by apt, is what the new
// Release lists, uncompressed and in each compression. A component's
// Sources appears with its first source and then stays: it may go only
// with its component, and only empty.
func checkSources(ctx context.Context, prev, next *apt.Release, changes []Change, f Fetcher) error {
	edits, err := foldSources(changes)
	if err != nil {
		return err
	}
	nextSrc, err := splitSources(next)
	if err != nil {
		return fmt.Errorf("the Release to sign: %w", err)
	}
	prevSrc := map[string]map[string]apt.IndexFile{}
	if prev != nil {
		if prevSrc, err = splitSources(prev); err != nil {
			return fmt.Errorf("generation %d: %w", prev.Meta.Generation, err)
		}
	}
	plain := apt.SourcesFileName(apt.None)
	for _, comp := range slices.Sorted(maps.Keys(prevSrc)) {
		if nextSrc[comp] != nil {
			continue
		}
		if slices.Contains(next.Meta.Components, comp) || prevSrc[comp][plain].Size != 0 {
			return fmt.Errorf("the Release to sign drops %s", apt.SourcesDir(comp)+"/"+plain)
		}
	}
	for _, comp := range slices.Sorted(maps.Keys(edits)) {
		if nextSrc[comp] == nil {
			return fmt.Errorf("the round changes the sources of %s, but the Release to sign lists no %s",
				comp, apt.SourcesDir(comp)+"/"+plain)
		}
	}
	for _, comp := range slices.Sorted(maps.Keys(nextSrc)) {
		if err := checkSourcesIndex(ctx, f, comp, prevSrc[comp], nextSrc[comp], edits[comp]); err != nil {
			return err
		}
	}
	return nil
}

// checkSourcesIndex checks one component's Sources files.
func checkSourcesIndex(ctx context.Context, f Fetcher, comp string, prev, next map[string]apt.IndexFile, e *sourceEdits) error {
	dir := apt.SourcesDir(comp)
	if e == nil && prev != nil && maps.EqualFunc(prev, next, func(a, b apt.IndexFile) bool {
		return a.Size == b.Size && a.SHA256 == b.SHA256
	}) {
		return nil
	}
	var srcs []apt.Source
	if prev != nil {
		prevPlain, err := sourcesPlain(ctx, f, dir, prev)
		if err != nil {
			return fmt.Errorf("the previous %s: %w", dir, err)
		}
		if srcs, err = apt.ParseSources(prevPlain); err != nil {
			return fmt.Errorf("the previous %s: %w", dir, err)
		}
	}
	if e == nil {
		e = &sourceEdits{}
	}
	want, err := apt.RenderSources(apt.ApplySources(srcs, e.adds, e.removes))
	if err != nil {
		return fmt.Errorf("%s once the round's changes apply: %w", dir, err)
	}
	listed, ok := next[apt.SourcesFileName(apt.None)]
	sum := sha256.Sum256(want)
	if !ok || listed.Size != int64(len(want)) || listed.SHA256 != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("%s/Sources is not the previous generation's plus the round's source changes", dir)
	}
	for _, name := range sourcesNames[1:] {
		file, ok := next[name]
		if !ok {
			continue
		}
		data, err := fetchListed(ctx, f, dir, file)
		if err != nil {
			return err
		}
		text, err := decompressSources(name, data)
		if err != nil {
			return fmt.Errorf("%s: %w", file.Path, err)
		}
		if !bytes.Equal(text, want) {
			return fmt.Errorf("%s does not decompress to the expected Sources", file.Path)
		}
	}
	return nil
}

// sourcesPlain returns the uncompressed Sources of a previous generation,
// read from the first compression it lists (or the file itself), checked
// against the listed uncompressed size and SHA256.
func sourcesPlain(ctx context.Context, f Fetcher, dir string, files map[string]apt.IndexFile) ([]byte, error) {
	listed, ok := files[apt.SourcesFileName(apt.None)]
	if !ok {
		return nil, fmt.Errorf("lists no Sources")
	}
	for _, name := range append(sourcesNames[1:], sourcesNames[0]) {
		file, ok := files[name]
		if !ok {
			continue
		}
		data, err := fetchListed(ctx, f, dir, file)
		if err != nil {
			return nil, err
		}
		if name != sourcesNames[0] {
			if data, err = decompressSources(name, data); err != nil {
				return nil, err
			}
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != listed.SHA256 {
			return nil, fmt.Errorf("%s does not decompress to the listed Sources", file.Path)
		}
		return data, nil
	}
	return nil, fmt.Errorf("no stored Sources file")
}

// decompressSources decompresses Sources.gz or Sources.xz, at most
// maxIndexSize bytes.
func decompressSources(name string, data []byte) ([]byte, error) {
	r, release, err := apt.Decompressor(path.Ext(name), bytes.NewReader(data), 64<<20)
	if err != nil {
		return nil, err
	}
	defer release()
	out, err := io.ReadAll(io.LimitReader(r, maxIndexSize+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxIndexSize {
		return nil, fmt.Errorf("larger than %d bytes", maxIndexSize)
	}
	return out, nil
}

// checkOwnSources refuses a change that adds one of the signer's own .dsc
// files with a stanza other than the one the signer computed from it.
func checkOwnSources(cfg Config, c Change) error {
	for _, a := range c.Adds {
		want, ok := cfg.OwnSources[a.SHA256]
		if ok && a.Architecture == apt.ArchSource && a.Control != want {
			return fmt.Errorf("change %d (job %d) adds this CLI's source %s %s with a Sources stanza that is not its .dsc's",
				c.ID, c.JobID, a.Name, a.Version)
		}
	}
	return nil
}
