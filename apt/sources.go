package apt

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

// ArchSource is the architecture under which aptq records a source
// package (a .dsc and its files): it is listed in <component>/source/Sources,
// never in a binary-<arch> index.
const ArchSource = "source"

// SourcesDir is the directory of a component's Sources index, relative to
// dists/<release>/.
func SourcesDir(component string) string { return component + "/source" }

// SourcesFileName is the name of a Sources index's file of compression c.
func SourcesFileName(c Compression) string {
	if c == None {
		return "Sources"
	}
	return "Sources." + string(c)
}

// SourceControl is the Sources stanza of a .dsc without its Directory
// (which depends on the component): the .dsc's fields with Source renamed
// Package and written first, as apt-ftparchive does, and each file list
// extended by the .dsc itself, which apt fetches with the other files.
// Package and Directory fields of the .dsc itself are dropped: the index
// sets them.
func SourceControl(d *DSC) Paragraph {
	p := Paragraph{{Name: "Package", Value: d.Source}}
	for _, f := range d.Paragraph {
		if strings.EqualFold(f.Name, "Source") || strings.EqualFold(f.Name, "Package") || strings.EqualFold(f.Name, "Directory") {
			continue
		}
		for _, sf := range sumFields {
			if strings.EqualFold(f.Name, sf.name) {
				f.Value = "\n " + sumLine(sf, d.Self) + f.Value
			}
		}
		p = append(p, f)
	}
	return p
}

// sumLine is a file's line in the list sf: "<digest> <size> <name>".
func sumLine(sf sumField, f SourceFile) string {
	digest := map[string]string{"Files": f.MD5, "Checksums-Sha1": f.SHA1,
		"Checksums-Sha256": f.SHA256, "Checksums-Sha512": f.SHA512}[sf.name]
	return digest + " " + strconv.FormatInt(f.Size, 10) + " " + f.Name
}

// Source is one entry of a Sources index: the stanza of SourceControl and
// the pool directory (SourceDir) that holds its files.
type Source struct {
	Control   Paragraph
	Directory string
}

// Key identifies a source package in a component: name and version.
func (s *Source) Key() SourceKey {
	return SourceKey{Name: s.Control.Get("Package"), Version: s.Control.Get("Version")}
}

// SourceKey is a source package's name and version.
type SourceKey struct{ Name, Version string }

// RenderSources returns the Sources index of srcs: one stanza each, sorted
// by name and version (Debian order), so that the same set of sources
// always gives the same bytes. Two sources with the same name and version
// are an error.
func RenderSources(srcs []Source) ([]byte, error) {
	sorted := slices.Clone(srcs)
	slices.SortFunc(sorted, func(a, b Source) int {
		ka, kb := a.Key(), b.Key()
		if c := strings.Compare(ka.Name, kb.Name); c != 0 {
			return c
		}
		return CompareVersions(ka.Version, kb.Version)
	})
	var b []byte
	for i, s := range sorted {
		if i > 0 && sorted[i-1].Key() == s.Key() {
			return nil, fmt.Errorf("source %s %s listed twice", s.Key().Name, s.Key().Version)
		}
		b = s.Control.AppendTo(b)
		b = appendField(b, "Directory", s.Directory)
		b = append(b, '\n')
	}
	return b, nil
}

// ParseSources reads a Sources index as RenderSources writes it; errors
// name the stanza by its position.
func ParseSources(plain []byte) ([]Source, error) {
	var out []Source
	for len(plain) > 0 {
		end := bytes.Index(plain, []byte("\n\n"))
		if end < 0 {
			return nil, fmt.Errorf("stanza %d does not end in a blank line", len(out)+1)
		}
		p, err := ParseParagraph(plain[:end+1])
		if err != nil {
			return nil, fmt.Errorf("stanza %d: %w", len(out)+1, err)
		}
		n := len(p) - 1
		if n < 1 || p[n].Name != "Directory" || p[0].Name != "Package" {
			return nil, fmt.Errorf("stanza %d does not start with Package and end with Directory", len(out)+1)
		}
		out = append(out, Source{Control: p[:n], Directory: p[n].Value})
		plain = plain[end+2:]
	}
	return out, nil
}

// ApplySources returns srcs without the sources removes names and with
// adds (which replace a source of the same name and version).
func ApplySources(srcs []Source, adds []Source, removes []SourceKey) []Source {
	drop := map[SourceKey]bool{}
	for _, k := range removes {
		drop[k] = true
	}
	for _, a := range adds {
		drop[a.Key()] = true
	}
	var out []Source
	for _, s := range srcs {
		if !drop[s.Key()] {
			out = append(out, s)
		}
	}
	return append(out, adds...)
}

// SourcesFiles returns <component>/source/Sources and its compressions
// (plain comes first whatever compressions holds; the caller decides
// whether to store it).
func SourcesFiles(component string, plain []byte, compressions []Compression) ([]IndexFile, error) {
	base := SourcesDir(component) + "/" + SourcesFileName(None)
	files := []IndexFile{describe(base, plain)}
	for _, c := range compressions {
		var buf bytes.Buffer
		switch c {
		case None:
			continue
		case Gzip:
			w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			w.Write(plain)
			if err := w.Close(); err != nil {
				return nil, err
			}
		case XZ:
			w, err := xz.NewWriter(&buf)
			if err != nil {
				return nil, err
			}
			w.Write(plain)
			if err := w.Close(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: unknown compression %q", base, c)
		}
		files = append(files, describe(base+"."+string(c), buf.Bytes()))
	}
	return files, nil
}
