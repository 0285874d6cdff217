package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/store/storetest"
)

// TestRemoveManyAtOnce: 20 000 removes of one name's versions from a
// release just filled (its statistics not yet gathered) take one
// statement well under a minute (joined on the membership's key: it took
// 8 minutes joined by component), and remove exactly those members.
func TestRemoveManyAtOnce(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := t.Context()
	tenant, _, err := s.CreateTenant(ctx, "rm")
	require.NoError(t, err)
	repo, err := s.CreateRepository(ctx, tenant, "r")
	require.NoError(t, err)
	rel, err := s.CreateRelease(ctx, store.Release{RepositoryID: repo.ID, Name: "s", Origin: "o", Label: "l", Suite: "s", Codename: "s",
		Components: []string{"main", "extra"}, Architectures: []string{"amd64"}, Compressions: []string{"gz"}})
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `
		WITH p AS (
			INSERT INTO packages (tenant_id, sha256, sha512, sha1, md5, size, name, version, architecture, source, control)
			SELECT $1, md5(i::text) || md5(i::text), '', '', '', 1, 'many', '1.' || i, 'amd64', 'many', ''
			FROM generate_series(1, 20001) i RETURNING id, version
		)
		INSERT INTO release_packages (release_id, component, package_id, filename)
		SELECT $2, c, id, 'pool/' || c || '/m/many/many_' || version || '_amd64.deb' FROM p, unnest(ARRAY['main', 'extra']) c`,
		tenant.ID, rel.ID)
	require.NoError(t, err)
	var removes []store.ChangeRemove
	for i := 1; i <= 20000; i++ {
		removes = append(removes, store.ChangeRemove{Name: "many", Version: fmt.Sprintf("1.%d", i), Architecture: "amd64", Component: "main"})
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, s.Atomic(ctx, store.RemoveStmt("remove", rel.ID, removes)))
	var main, extra, removed int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM release_packages WHERE release_id = $1 AND component = 'main'),
		(SELECT count(*) FROM release_packages WHERE release_id = $1 AND component = 'extra'),
		(SELECT count(*) FROM pool_removals WHERE repository_id = $2)`, rel.ID, repo.ID).Scan(&main, &extra, &removed))
	require.Equal(t, []int{1, 20001, 20000}, []int{main, extra, removed}, "main keeps 1.20001; extra is untouched")
}
