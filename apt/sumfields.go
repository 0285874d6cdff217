package apt

import (
	"fmt"
	"strconv"
	"strings"
)

// sumField is one of the fields of a .dsc or .changes that list files with
// a digest each: " <digest> <size> <name>" per line.
type sumField struct {
	name   string
	hexLen int
	set    func(*SourceFile, string)
}

// sumFields lists them in the order the Sources index writes them. Files
// (MD5) and Checksums-Sha256 are required; the others are checked when
// present.
var sumFields = []sumField{
	{"Files", 32, func(f *SourceFile, s string) { f.MD5 = s }},
	{"Checksums-Sha1", 40, func(f *SourceFile, s string) { f.SHA1 = s }},
	{"Checksums-Sha256", 64, func(f *SourceFile, s string) { f.SHA256 = s }},
	{"Checksums-Sha512", 128, func(f *SourceFile, s string) { f.SHA512 = s }},
}

// parseFileLists reads the file lists of p into one SourceFile per file,
// in the order of the Files field. Every list present must name the same
// files with the same sizes. In a .changes the Files lines carry the
// section and priority before the name: filesExtra is the number of such
// extra words.
func parseFileLists(p Paragraph, checkName func(string) error, filesExtra int) ([]SourceFile, error) {
	var files []SourceFile
	index := map[string]int{}
	for _, sf := range sumFields {
		value, present := fieldValue(p, sf.name)
		if !present {
			if sf.name == "Files" || sf.name == "Checksums-Sha256" {
				return nil, fmt.Errorf("no %s field", sf.name)
			}
			continue
		}
		if strings.TrimSpace(value) == "" {
			return nil, fmt.Errorf("%s lists no file", sf.name)
		}
		extra := 0
		if sf.name == "Files" {
			extra = filesExtra
		}
		seen := map[string]bool{}
		for n, line := range strings.Split(strings.TrimPrefix(value, "\n"), "\n") {
			words := strings.Fields(line)
			if len(words) != 3+extra {
				return nil, fmt.Errorf("%s line %d: want %d words, got %d", sf.name, n+1, 3+extra, len(words))
			}
			sum, sizeText, name := words[0], words[1], words[len(words)-1]
			if len(sum) != sf.hexLen || !isLowerHex(sum) {
				return nil, fmt.Errorf("%s line %d: %q is not a lowercase hex digest of %d digits", sf.name, n+1, truncate(sum), sf.hexLen)
			}
			size, err := strconv.ParseInt(sizeText, 10, 64)
			if err != nil || size < 0 || (len(sizeText) > 1 && sizeText[0] == '0') {
				return nil, fmt.Errorf("%s line %d: bad size %q", sf.name, n+1, truncate(sizeText))
			}
			if err := checkName(name); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", sf.name, n+1, err)
			}
			if seen[name] {
				return nil, fmt.Errorf("%s lists %s twice", sf.name, name)
			}
			seen[name] = true
			i, known := index[name]
			switch {
			case sf.name == "Files":
				if len(files) == maxSourceFiles {
					return nil, fmt.Errorf("more than %d files", maxSourceFiles)
				}
				index[name] = len(files)
				files = append(files, SourceFile{Name: name, Size: size})
				i = len(files) - 1
			case !known:
				return nil, fmt.Errorf("%s lists %s, which Files does not", sf.name, name)
			case files[i].Size != size:
				return nil, fmt.Errorf("%s gives %s %d bytes, Files %d", sf.name, name, size, files[i].Size)
			}
			sf.set(&files[i], sum)
		}
		if len(seen) != len(files) {
			return nil, fmt.Errorf("%s does not list every file of Files", sf.name)
		}
	}
	return files, nil
}

// fieldValue returns the value of a field and whether it is present (an
// empty Files field is present but lists nothing).
func fieldValue(p Paragraph, name string) (string, bool) {
	for _, f := range p {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}
