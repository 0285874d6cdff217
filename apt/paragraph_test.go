package apt

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseParagraph(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Paragraph
	}{
		{"simple", "Package: hello\nVersion: 1.0\n", Paragraph{{"Package", "hello"}, {"Version", "1.0"}}},
		{"no final newline", "Package: hello", Paragraph{{"Package", "hello"}}},
		{"no space after colon", "Package:hello\n", Paragraph{{"Package", "hello"}}},
		{"surrounding whitespace trimmed", "Package: \t hello \t\n", Paragraph{{"Package", "hello"}}},
		{"empty value", "Package: hello\nX-Empty:\n", Paragraph{{"Package", "hello"}, {"X-Empty", ""}}},
		{"colon in value", "Homepage: https://example.org:8080/x\n", Paragraph{{"Homepage", "https://example.org:8080/x"}}},
		{
			"multi-line verbatim",
			"Description: short  \n long line\n .\n   indented  \n\tTab\nPackage: x\n",
			Paragraph{{"Description", "short  \n long line\n .\n   indented  \n\tTab"}, {"Package", "x"}},
		},
		{"value on next line", "Conffiles:\n /etc/a 0123\n /etc/b 4567\n", Paragraph{{"Conffiles", "\n /etc/a 0123\n /etc/b 4567"}}},
		{"blank lines around", "\n\n  \nPackage: x\n\n\n \t\n", Paragraph{{"Package", "x"}}},
		{"whitespace-only last line", "Package: x\n \t", Paragraph{{"Package", "x"}}},
		{"case kept", "package: x\nX-Custom-FIELD: y\n", Paragraph{{"package", "x"}, {"X-Custom-FIELD", "y"}}},
		{"utf-8", "Maintainer: Jörg Möller <j@example.org>\n", Paragraph{{"Maintainer", "Jörg Möller <j@example.org>"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseParagraph([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseParagraphErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "no fields"},
		{"only blank lines", "\n\n", "no fields"},
		{"missing colon", "Package: x\nVersion 1.0\n", `line 2: missing ':' in "Version 1.0"`},
		{"empty field name", ": value\n", "line 1: empty field name"},
		{"duplicate field", "Package: x\nVersion: 1\npackage: y\n", `line 3: duplicate field "package"`},
		{"continuation first", " continued\nPackage: x\n", "line 1: continuation line before the first field"},
		{"whitespace-only line inside", "Description: a\n \n b\n", "line 2: whitespace-only line inside the paragraph"},
		{"two paragraphs", "Package: x\n\nPackage: y\n", "line 3: more than one paragraph"},
		{"invalid utf-8", "Package: \xff\n", "not valid UTF-8"},
		{"nul byte", "Package: x\nVersion: 1\x00\n", `line 2: control character '\x00'`},
		{"crlf", "Package: x\r\n", "line 1: carriage return"},
		{"comment", "# comment: x\nPackage: x\n", `field name "# comment" must not start with '#'`},
		{"dash", "-Package: x\n", "must not start with '-'"},
		{"space in name", "Pack age: x\n", `field name "Pack age" may contain only printable ASCII characters other than space`},
		{"non-ascii name", "Packäge: x\n", "only printable ASCII"},
		{"whitespace-only line then text", "Package: x\n \n\nVersion: 1\n", "line 2: whitespace-only line inside the paragraph"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseParagraph([]byte(tt.in))
			require.ErrorIs(t, err, errParagraph)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestParagraphRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []string{
		"Package: hello\nVersion: 1:2.0-1\nDescription: short\n long\n .\n more\n",
		"Conffiles:\n /etc/a 0123\nEmpty:\nPackage: x\n",
	}
	for _, in := range tests {
		p, err := ParseParagraph([]byte(in))
		require.NoError(t, err)
		require.Equal(t, in, p.String())
		again, err := ParseParagraph(p.AppendTo(nil))
		require.NoError(t, err)
		require.Equal(t, p, again)
	}
}

func TestParagraphGet(t *testing.T) {
	t.Parallel()
	p := Paragraph{{"Package", "hello"}, {"installed-size", "12"}}
	tests := []struct{ name, want string }{
		{"Package", "hello"},
		{"PACKAGE", "hello"},
		{"Installed-Size", "12"},
		{"Version", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, p.Get(tt.name), tt.name)
	}
}
