package apt

import (
	"os/exec"
	"testing"

	debversion "github.com/knqyf263/go-deb-version"
	"github.com/stretchr/testify/require"
)

// versionCases are ordered pairs (a < b unless equal) in dpkg's order.
var versionCases = []struct {
	a, b string
	want int
}{
	{"1.0", "1.0", 0},
	{"1.0", "1.00", 0},
	{"1.0-1", "1.0-1", 0},
	{"0:1.0", "1.0", 0},
	{"1.0", "1.1", -1},
	{"1.2", "1.10", -1},
	{"1.0", "1.0-1", -1},
	{"1.0-1", "1.0-2", -1},
	{"1.0-2", "1.0-10", -1},
	{"1.0~rc1", "1.0", -1},
	{"1.0~rc1", "1.0~rc2", -1},
	{"1.0~~", "1.0~", -1},
	{"1.0~", "1.0", -1},
	{"1.0", "1.0a", -1},
	{"1.0a", "1.0+", -1},
	{"1.0+", "1.0.", -1},
	{"1.0a", "1.0.1", -1},
	{"1.0", "1.0+dfsg", -1},
	{"1.0+dfsg-1", "1.0+dfsg-1+deb12u1", -1},
	{"1.0+dfsg-1~bpo11+1", "1.0+dfsg-1", -1},
	{"9.9-9", "1:0.1-1", -1},
	{"1:2.0-1", "2:1.0-1", -1},
	{"2.0-1", "1:2.0-1", -1},
	{"1.0-1.1", "1.0-1a", 1},
	{"1.0.0", "1.0", 1},
	{"10", "9", 1},
	{"1.0-0", "1.0", 0},
	{"2.30-1", "2.30-1ubuntu1", -1},
	// Digit runs longer than 64 bits compare numerically, as in dpkg.
	{"1.0+20240101123456789012", "1.0+20240101123456789013", -1},
	{"1.0+000000000000000000000001", "1.0+1", 0},
	// Invalid versions sort before valid ones, byte-wise among themselves.
	{"", "0", -1},
	{"a1.0", "0.1", -1},
	{"a1.0", "b1.0", -1},
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	for _, tt := range versionCases {
		require.Equal(t, tt.want, CompareVersions(tt.a, tt.b), "%s vs %s", tt.a, tt.b)
		require.Equal(t, -tt.want, CompareVersions(tt.b, tt.a), "%s vs %s", tt.b, tt.a)
	}
}

// TestCompareVersionsAgreesWithDpkg checks the valid cases against dpkg
// itself, the reference implementation.
func TestCompareVersionsAgreesWithDpkg(t *testing.T) {
	t.Parallel()
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg not installed")
	}
	for _, tt := range versionCases {
		if _, err := parseVersion(tt.a); err != nil {
			continue
		}
		if _, err := parseVersion(tt.b); err != nil {
			continue
		}
		op := map[int]string{-1: "lt", 0: "eq", 1: "gt"}[tt.want]
		err := exec.Command(dpkg, "--compare-versions", tt.a, op, tt.b).Run()
		require.NoError(t, err, "dpkg disagrees: %s %s %s", tt.a, op, tt.b)
	}
}

// TestCompareVersionsAgreesWithLibrary checks against go-deb-version where
// that library is exact (digit runs that fit in an int).
func TestCompareVersionsAgreesWithLibrary(t *testing.T) {
	t.Parallel()
	for _, tt := range versionCases {
		va, errA := debversion.NewVersion(tt.a)
		vb, errB := debversion.NewVersion(tt.b)
		if errA != nil || errB != nil || len(tt.a) > 20 || len(tt.b) > 20 {
			continue
		}
		require.Equal(t, tt.want, sign(va.Compare(vb)), "%s vs %s", tt.a, tt.b)
	}
}

func TestParseVersionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "version is empty"},
		{":1.0", "epoch before ':' is empty"},
		{"a:1.0", "epoch before ':' must be a small decimal number"},
		{"1234567890:1.0", "epoch before ':' must be a small decimal number"},
		{"1.0-", "revision after the last '-' is empty"},
		{"-1", "upstream version is empty"},
		{"v1.0", "upstream version must start with a digit"},
		{"1.0 beta", "upstream version may contain only"},
		{"1_0", "upstream version may contain only"},
		{"1:1.0-1:2", "revision may contain only"},
		{"1.0-1_2", "revision may contain only"},
	}
	for _, tt := range tests {
		_, err := parseVersion(tt.in)
		require.ErrorContains(t, err, tt.want, tt.in)
	}
	for _, ok := range []string{"0", "1:2.0-1", "2.0+git20240101.abc~rc1-0ubuntu1~22.04", "1.0-1-2", "1:1.0:2-3", "1.0-1+b1"} {
		_, err := parseVersion(ok)
		require.NoError(t, err, ok)
	}
}
