package apt

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const goodChanges = `Format: 1.8
Source: hello (1.0-1)
Binary: hello
Architecture: source all
Version: 1.0-1+b1
Distribution: unstable
Files:
 0123456789abcdef0123456789abcdef 10 misc optional hello_1.0-1.dsc
 0123456789abcdef0123456789abcdef 20 misc optional hello_1.0-1+b1_all.deb
Checksums-Sha256:
 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 10 hello_1.0-1.dsc
 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 20 hello_1.0-1+b1_all.deb
`

func TestParseChanges(t *testing.T) {
	t.Parallel()
	c, err := ParseChanges([]byte(goodChanges))
	require.NoError(t, err)
	require.Equal(t, "hello", c.Source)
	require.Equal(t, "1.0-1+b1", c.Version)
	require.Equal(t, "unstable", c.Distribution)
	require.Equal(t, []string{"hello_1.0-1.dsc", "hello_1.0-1+b1_all.deb"}, []string{c.Files[0].Name, c.Files[1].Name})
	require.Equal(t, int64(20), c.Files[1].Size)

	for name, c := range map[string]struct{ text, want string }{
		"no Distribution": {strings.Replace(goodChanges, "Distribution: unstable\n", "", 1), "no Distribution field"},
		"path":            {strings.ReplaceAll(goodChanges, "hello_1.0-1.dsc", "x/../hello_1.0-1.dsc"), "may contain only"},
		"Files without section": {strings.Replace(goodChanges, " misc optional hello_1.0-1.dsc", " hello_1.0-1.dsc", 1),
			"want 5 words"},
		"bad distribution": {strings.Replace(goodChanges, "unstable", "../etc", 1), "bad Distribution"},
		"bad source":       {strings.Replace(goodChanges, "hello (1.0-1)", "hello (x y)", 1), "bad Source"},
	} {
		_, err := ParseChanges([]byte(c.text))
		require.ErrorIs(t, err, ErrInvalidSource, name)
		require.ErrorContains(t, err, c.want, name)
	}
}
