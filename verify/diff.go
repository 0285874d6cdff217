package verify

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
)

// mismatch explains how the new index differs from the one the round's
// changes give (want): it reads the listed index (the Packages file, else a
// compressed one) and names the packages that differ.
func (c *indexCheck) mismatch(ctx context.Context, want []byte, compressed map[string][]byte) error {
	path := c.dir.path()
	got, err := c.listed(ctx, compressed)
	if err != nil {
		return fmt.Errorf("%s/Packages is not the previous generation plus the round's changes (and reading it failed: %v)", path, err)
	}
	gotSet, wantSet := stanzas(got), stanzas(want)
	var diffs []string
	for _, k := range sortedKeys(gotSet) {
		switch w, ok := wantSet[k]; {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("it lists %s, which no change of the round adds", k))
		case w != gotSet[k]:
			diffs = append(diffs, fmt.Sprintf("its stanza of %s differs from the one rendered from the upload", k))
		}
	}
	for _, k := range sortedKeys(wantSet) {
		if _, ok := gotSet[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("it lacks %s", k))
		}
	}
	if len(diffs) == 0 {
		diffs = append(diffs, "the same stanzas in another order or format than the worker writes")
	}
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("and %d more differences", len(diffs)-5))
	}
	return fmt.Errorf("%s/Packages is not the previous generation plus the round's changes: %s", path, strings.Join(diffs, "; "))
}

// listed reads the new index as listed: the Packages file, else the
// compressed one fetched already.
func (c *indexCheck) listed(ctx context.Context, compressed map[string][]byte) ([]byte, error) {
	if _, ok := c.dir.files[plainName]; ok {
		if data, err := c.get(ctx, c.dir, plainName); err == nil {
			return data, nil
		}
	}
	for _, name := range []string{gzName, xzName} {
		if data := compressed[name]; data != nil {
			return decompress(name, data, maxIndexSize, c.dir.files[plainName].Size)
		}
	}
	return nil, fmt.Errorf("no Packages file could be read")
}

// stanzas splits a Packages file by "name version architecture".
func stanzas(plain []byte) map[string]string {
	out := map[string]string{}
	for _, s := range bytes.SplitAfter(plain, []byte("\n\n")) {
		if len(bytes.TrimSpace(s)) == 0 {
			continue
		}
		var name, version, arch string
		for line := range strings.Lines(string(s)) {
			k, v, _ := strings.Cut(strings.TrimRight(line, "\n"), ": ")
			switch k {
			case "Package":
				name = v
			case "Version":
				version = v
			case "Architecture":
				arch = v
			}
		}
		out[name+" "+version+" "+arch] = string(s)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
