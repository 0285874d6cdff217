package apt

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseControlLimits: control fields that name a package are capped in
// length, so a hostile .deb cannot put a 5 000-byte version into pool paths,
// S3 keys and indexes; control characters never pass.
func TestParseControlLimits(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return "1" + strings.Repeat("a", n-1) }
	tests := []struct {
		name, control, want string
	}{
		{"version of 5000 bytes", "Package: hello\nVersion: " + long(5000) + "\nArchitecture: amd64\n",
			"Version field is 5000 bytes, at most 256 allowed"},
		{"longest version", "Package: hello\nVersion: " + long(256) + "\nArchitecture: amd64\n", ""},
		{"version one over", "Package: hello\nVersion: " + long(257) + "\nArchitecture: amd64\n", "Version field is 257 bytes"},
		{"long package", "Package: " + long(129) + "\nVersion: 1.0\nArchitecture: amd64\n", "Package field is 129 bytes"},
		{"longest package", "Package: " + long(128) + "\nVersion: 1.0\nArchitecture: amd64\n", ""},
		{"long architecture", "Package: hello\nVersion: 1.0\nArchitecture: " + strings.Repeat("a", 33) + "\n", "Architecture field is 33 bytes"},
		{"long source", "Package: hello\nVersion: 1.0\nArchitecture: amd64\nSource: hello (" + long(380) + ")\n", "Source field is 388 bytes"},
		{"escape in version", "Package: hello\nVersion: 1.0\x1b[2J\nArchitecture: amd64\n", "control character"},
		{"carriage return", "Package: hello\r\nVersion: 1.0\nArchitecture: amd64\n", "carriage return"},
		{"multi-line version", "Package: hello\nVersion: 1.0\n Filename: evil\nArchitecture: amd64\n", "bad Version field"},
		{"multi-line package", "Package: hello\n Version: 2\nVersion: 1.0\nArchitecture: amd64\n", "bad Package field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseControl([]byte(tt.control))
			if tt.want == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.Less(t, len(err.Error()), 200, "the error does not carry the hostile value whole")
		})
	}
}
