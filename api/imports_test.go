package api

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The store alone knows Postgres and the jobs package River: api's own
// files name neither driver nor queue (its tests may, to inspect state).
func TestAPIImportsNoDriver(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	forbidden := []string{"github.com/jackc/", "github.com/riverqueue/"}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			for _, prefix := range forbidden {
				require.False(t, strings.HasPrefix(path, prefix), "%s imports %s", name, path)
			}
		}
		checked++
	}
	require.Greater(t, checked, 10)
}
