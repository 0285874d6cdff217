package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/internal/systest"
)

// aptClient is systest.Apt failing the test on any problem.
type aptClient struct {
	t *testing.T
	*systest.Apt
}

func newAptClient(t *testing.T, url, release, component, pubKeyArmored string) *aptClient {
	t.Helper()
	a, err := systest.NewApt(t.TempDir(), url, release, component, pubKeyArmored)
	require.NoError(t, err)
	return &aptClient{t: t, Apt: a}
}

// run runs apt-get and fails the test on a non-zero exit or on any warning
// or error line.
func (c *aptClient) run(args ...string) string {
	c.t.Helper()
	out, err := c.Run(context.Background(), args...)
	require.NoError(c.t, err)
	return out
}

// writeDeb builds a .deb into dir and returns its path.
func writeDeb(t *testing.T, dir string, o debtest.Options) string {
	t.Helper()
	path := filepath.Join(dir, o.Package+"_"+strings.ReplaceAll(o.Version, ":", "%3a")+"_"+o.Architecture+".deb")
	require.NoError(t, os.WriteFile(path, debtest.Build(t, o), 0o644))
	return path
}
