package client_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A program built on the client carries no server code: the client shares
// only package wire (the JSON) with the API.
func TestClientCarriesNoServerCode(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/aptq/aptq/wire")
	for _, dep := range deps {
		for _, bad := range []string{"github.com/aptq/aptq/store", "github.com/aptq/aptq/api",
			"github.com/aptq/aptq/worker", "github.com/jackc/", "github.com/riverqueue/", "github.com/labstack/echo"} {
			require.False(t, strings.HasPrefix(dep, bad), "client depends on %s", dep)
		}
	}
}

// wire is a leaf: the standard library only.
func TestWireIsALeaf(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "../wire").Output()
	require.NoError(t, err)
	require.Equal(t, []string{"github.com/aptq/aptq/wire"}, strings.Fields(string(out)))
}
