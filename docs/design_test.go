// Package docs holds the repository's documentation; its test keeps
// docs/design.md's claims about tests true.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	testNameRe = regexp.MustCompile(`\b(?:Test|Fuzz)[A-Z]\w*`)
	testFileRe = regexp.MustCompile("`([a-z0-9_/]+_test\\.go)`")
	testFuncRe = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Z]\w*)\(`)
)

// TestDesignNamesExist: every test and test file docs/design.md names as
// holding a guarantee exists in the tree, so a renamed or deleted test
// cannot leave a guarantee pointing at nothing.
func TestDesignNamesExist(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("design.md")
	require.NoError(t, err)
	names := testNameRe.FindAllString(string(doc), -1)
	require.NotEmpty(t, names, "design.md names the tests that hold its guarantees")

	defined := map[string]bool{}
	root := ".."
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range testFuncRe.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	require.NoError(t, err)
	for _, name := range names {
		require.True(t, defined[name], "docs/design.md names %s, which no _test.go file defines", name)
	}
	for _, m := range testFileRe.FindAllStringSubmatch(string(doc), -1) {
		require.FileExists(t, filepath.Join(root, m[1]), "docs/design.md names it")
	}
}
