package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// TestUploadRefusesHostileFileNames: a .deb whose data.tar names a path
// that would escape the root or break a Contents line (.., a newline, a
// tab) is refused 422 invalid_package and nothing is stored; an honest one
// is stored with its file count.
func TestUploadRefusesHostileFileNames(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	for _, name := range []string{"../../etc/cron.d/evil", "./usr/bin/a\nusr/bin/sudo\tadmin/sudo", "./usr/bin/tab\tname", "./usr/./x"} {
		deb := debtest.Build(t, debtest.Options{Package: "evil", Version: "1.0", Architecture: "amd64", Files: []string{name}})
		b.expectError(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, 422, "invalid_package")
	}
	require.Zero(t, b.count("packages"))

	deb := debtest.Build(t, debtest.Options{Package: "ok", Version: "1.0", Architecture: "amd64", Files: []string{"./usr/bin/ok", "/usr/lib/x y"}})
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil))
	var count int
	var list []byte
	require.NoError(t, b.store.Pool.QueryRow(context.Background(), `SELECT file_count, file_list FROM packages WHERE name = 'ok'`).Scan(&count, &list))
	require.Equal(t, 3, count, "usr/bin/ok, usr/lib/x y and the README")
	require.NotEmpty(t, list)
}
