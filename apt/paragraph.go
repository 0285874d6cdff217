package apt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Field is one field of a deb822 paragraph.
//
// Value is the text after the colon with the whitespace that follows the
// colon and the trailing whitespace of the whole value removed. Continuation
// lines are kept verbatim, each preceded by "\n" and keeping its leading
// space, so a multi-line Description reads "short\n long line\n .\n more".
// A field whose first line is empty (e.g. Conffiles) starts with "\n".
type Field struct {
	Name, Value string
}

// Paragraph is one deb822 stanza (a control file, a Release file, one entry
// of a Packages file). Field order is preserved because apt and dpkg tools
// present fields in the order they were written.
type Paragraph []Field

// Get returns the value of the named field, or "" if it is absent. Names
// match case-insensitively, as in dpkg and apt.
func (p Paragraph) Get(name string) string {
	for _, f := range p {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// AppendTo appends the paragraph in deb822 form (one "Name: value" per field,
// each line ending in "\n", no trailing blank line) to b. ParseParagraph of
// the result yields p again for any p that ParseParagraph produced.
func (p Paragraph) AppendTo(b []byte) []byte {
	for _, f := range p {
		b = appendField(b, f.Name, f.Value)
	}
	return b
}

// String returns the paragraph in deb822 form; see AppendTo.
func (p Paragraph) String() string {
	return string(p.AppendTo(nil))
}

// appendField writes one field the way apt's pkgTagSection::Write does: no
// space after the colon when the value is empty or starts on the next line,
// so that re-writing an apt-ftparchive stanza is byte-identical.
func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	if value == "" || value[0] == '\n' {
		b = append(b, ':')
	} else {
		b = append(b, ": "...)
	}
	b = append(b, value...)
	return append(b, '\n')
}

// errParagraph is wrapped by every ParseParagraph error.
var errParagraph = errors.New("malformed control paragraph")

// ParseParagraph parses exactly one deb822 paragraph. Blank lines before and
// after the paragraph are allowed; anything else that is not a well-formed
// field is an error that names the line, because the user who uploaded the
// file has to find and fix it:
//   - a line without a colon, or with an empty or invalid field name
//     (field names are printable ASCII without spaces or colons and do not
//     start with '#' or '-');
//   - a field that appears twice (names compare case-insensitively);
//   - a continuation line before the first field;
//   - a whitespace-only line inside the paragraph (dpkg and apt disagree on
//     what it means; use " ." for an empty line in a multi-line field);
//   - a second paragraph;
//   - invalid UTF-8, or control characters other than tab and newline
//     (NUL, carriage return, ...).
func ParseParagraph(data []byte) (Paragraph, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: not valid UTF-8", errParagraph)
	}
	if i := bytes.IndexFunc(data, isForbiddenControl); i >= 0 {
		what := fmt.Sprintf("control character %q", data[i])
		if data[i] == '\r' {
			what = "carriage return (CRLF line endings are not allowed)"
		}
		return nil, fmt.Errorf("%w: line %d: %s", errParagraph, 1+bytes.Count(data[:i], []byte("\n")), what)
	}
	text := string(data)
	var (
		p     Paragraph
		seen  = make(map[string]bool)
		ended bool // a blank line followed the paragraph
		// wsLine is the whitespace-only line that ended the paragraph,
		// an error only if the paragraph was not over.
		wsLine int
		// The value of the field being read is text[valStart:valEnd]:
		// slicing instead of concatenating keeps hostile inputs with
		// thousands of continuation lines linear.
		valStart, valEnd int
	)
	closeField := func() {
		if len(p) > 0 {
			// No value ends in whitespace (apt trims it too); inner
			// lines keep theirs, as in apt.
			p[len(p)-1].Value = strings.TrimRight(text[valStart:valEnd], " \t")
		}
	}
	for n, pos := 1, 0; pos < len(text); n++ {
		lineStart := pos
		line := text[pos:]
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
			pos += i + 1
		} else {
			pos = len(text)
		}
		if strings.Trim(line, " \t") == "" {
			if line != "" && len(p) > 0 && !ended {
				wsLine = n
			}
			ended = len(p) > 0
			continue
		}
		switch {
		case ended && wsLine > 0:
			return nil, fmt.Errorf("%w: line %d: whitespace-only line inside the paragraph (write \" .\" for an empty line in a multi-line field)", errParagraph, wsLine)
		case ended:
			return nil, fmt.Errorf("%w: line %d: more than one paragraph (only one is allowed)", errParagraph, n)
		case line[0] == ' ' || line[0] == '\t':
			if len(p) == 0 {
				return nil, fmt.Errorf("%w: line %d: continuation line before the first field", errParagraph, n)
			}
			valEnd = lineStart + len(line)
		default:
			name, value, err := parseFieldLine(line)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", errParagraph, n, err)
			}
			key := strings.ToLower(name)
			if seen[key] {
				return nil, fmt.Errorf("%w: line %d: duplicate field %q", errParagraph, n, name)
			}
			seen[key] = true
			closeField()
			p = append(p, Field{Name: name})
			valStart = lineStart + len(line) - len(value)
			valEnd = lineStart + len(line)
		}
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: no fields", errParagraph)
	}
	closeField()
	return p, nil
}

// parseFieldLine splits the first line of a field, "Name: value", and
// returns the value with its leading whitespace removed.
func parseFieldLine(line string) (name, value string, err error) {
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", fmt.Errorf("missing ':' in %q", truncate(line))
	}
	if name == "" {
		return "", "", fmt.Errorf("empty field name in %q", truncate(line))
	}
	if err := checkFieldName(name); err != nil {
		return "", "", err
	}
	return name, strings.TrimLeft(value, " \t"), nil
}

// checkFieldName enforces deb822 field-name syntax (Debian Policy 5.1).
func checkFieldName(name string) error {
	if name[0] == '#' || name[0] == '-' {
		return fmt.Errorf("field name %q must not start with %q", truncate(name), name[0])
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("field name %q may contain only printable ASCII characters other than space", truncate(name))
		}
	}
	return nil
}

// truncate keeps error messages readable when the input is hostile.
func truncate(s string) string {
	const maxLen = 60
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// isForbiddenControl reports the characters no control file needs and that
// tools treat inconsistently (CR, NUL, vertical tab, ...).
func isForbiddenControl(r rune) bool {
	return (r < ' ' && r != '\t' && r != '\n') || r == 0x7f
}
