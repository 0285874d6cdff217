package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/store/storetest"
)

// claimFixture is a repository of a tenant and helpers to make packages
// and read the repository's claims.
type claimFixture struct {
	t      *testing.T
	s      *store.Store
	tenant store.Tenant
	repo   store.Repository
}

func newClaimFixture(t *testing.T) *claimFixture {
	t.Helper()
	s := storetest.NewStore(t)
	tenant, _, err := s.CreateTenant(t.Context(), "claims")
	require.NoError(t, err)
	repo, err := s.CreateRepository(t.Context(), tenant, "r")
	require.NoError(t, err)
	return &claimFixture{t: t, s: s, tenant: tenant, repo: repo}
}

// packages inserts n packages named prefix0…, version version, with
// content that differs by salt, and returns them as adds to main at the
// version's pool path (which drops the epoch, as apt.PoolPath does).
func (f *claimFixture) packages(prefix, version, poolVersion, salt string, n int) []store.ChangeAdd {
	f.t.Helper()
	rows, err := f.s.Pool.Query(f.t.Context(), `
		INSERT INTO packages (tenant_id, sha256, sha512, sha1, md5, size, name, version, architecture, source, control)
		SELECT $1, md5($2 || $3 || $4 || i) || md5($4 || i), '', '', '', 1, $2 || i, $3, 'amd64', $2 || i, ''
		FROM generate_series(0, $5::int - 1) i
		RETURNING id, name`, f.tenant.ID, prefix, version, salt, n)
	require.NoError(f.t, err)
	var adds []store.ChangeAdd
	for rows.Next() {
		var a store.ChangeAdd
		var name string
		require.NoError(f.t, rows.Scan(&a.PackageID, &name))
		a.Component, a.Architecture = "main", "amd64"
		a.Filename = fmt.Sprintf("pool/main/%c/%s/%s_%s_amd64.deb", name[0], name, name, poolVersion)
		adds = append(adds, a)
	}
	require.NoError(f.t, rows.Err())
	require.Len(f.t, adds, n)
	return adds
}

// claims are the repository's version claims, pool claims and counter.
func (f *claimFixture) claims() [3]int {
	f.t.Helper()
	var c [3]int
	require.NoError(f.t, f.s.Pool.QueryRow(f.t.Context(), `SELECT
		(SELECT count(*) FROM repository_packages WHERE repository_id = $1),
		(SELECT count(*) FROM repository_pool WHERE repository_id = $1),
		(SELECT packages FROM repositories WHERE id = $1)`, f.repo.ID).Scan(&c[0], &c[1], &c[2]))
	return c
}

// claim runs ClaimAdds in a transaction of its own and returns how many
// statements it sent.
func (f *claimFixture) claim(adds []store.ChangeAdd) (int64, error) {
	var sent int64
	err := f.s.InTx(f.t.Context(), func(tx pgx.Tx) error {
		c := &countingTx{Tx: tx}
		err := f.s.ClaimAdds(f.t.Context(), c, f.repo.ID, adds)
		sent = c.statements.Load()
		return err
	})
	return sent, err
}

// countingTx counts the statements sent through it.
type countingTx struct {
	pgx.Tx
	statements atomic.Int64
}

func (c *countingTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.statements.Add(1)
	return c.Tx.Exec(ctx, sql, args...)
}

func (c *countingTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.statements.Add(1)
	return c.Tx.Query(ctx, sql, args...)
}

func (c *countingTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c.statements.Add(1)
	return c.Tx.QueryRow(ctx, sql, args...)
}

// TestClaimAddsSetWise: thousands of adds are claimed in the same few
// statements as one; claiming again, or an add repeated in the set, counts
// nothing twice.
func TestClaimAddsSetWise(t *testing.T) {
	t.Parallel()
	f := newClaimFixture(t)
	one := f.packages("single", "1.0", "1.0", "a", 1)
	sent, err := f.claim(one)
	require.NoError(t, err)
	require.Equal(t, [3]int{1, 1, 1}, f.claims())
	require.LessOrEqual(t, sent, int64(5))

	many := f.packages("bulk", "1.0", "1.0", "a", 3000)
	sentMany, err := f.claim(many)
	require.NoError(t, err)
	require.Equal(t, sent, sentMany, "3000 adds cost the statements of one")
	require.Equal(t, [3]int{3001, 3001, 3001}, f.claims())

	// Half claimed already, half new, each twice in the set.
	more := append(many[1500:], f.packages("more", "1.0", "1.0", "a", 1500)...)
	more = append(more, more...)
	_, err = f.claim(more)
	require.NoError(t, err)
	require.Equal(t, [3]int{4501, 4501, 4501}, f.claims())
	_, err = f.claim(nil)
	require.NoError(t, err)
}

// TestClaimAddsConflicts: a version or a pool path held by other content
// anywhere in a large set refuses the whole set, naming the first add in
// the set's order that collides, and leaves no claim of the set behind.
func TestClaimAddsConflicts(t *testing.T) {
	t.Parallel()
	f := newClaimFixture(t)
	held := f.packages("held", "2.0-1", "2.0-1", "a", 3)
	_, err := f.claim(held)
	require.NoError(t, err)
	before := f.claims()

	fresh := f.packages("fresh", "1.0", "1.0", "a", 2000)
	// held1 2.0-1 with other content: the same version.
	sameVersion := f.packages("held", "2.0-1", "2.0-1", "b", 3)
	// held2 1:2.0-1: another version at the pool path held2 2.0-1 holds.
	epoch := f.packages("held", "1:2.0-1", "2.0-1", "c", 3)
	set := append(append([]store.ChangeAdd{}, fresh[:1000]...), sameVersion[1], epoch[2])
	set = append(set, fresh[1000:]...)
	_, err = f.claim(set)
	var e *store.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, store.CodePackageConflict, e.Code)
	require.Contains(t, e.Message, "held1 2.0-1 (amd64) is already in the repository with other content")
	require.Equal(t, before, f.claims(), "nothing of the set stays claimed")

	set = append(append([]store.ChangeAdd{}, fresh...), epoch[2], epoch[0])
	_, err = f.claim(set)
	require.ErrorAs(t, err, &e)
	require.Equal(t, store.CodePackageConflict, e.Code)
	require.Equal(t, "pool/main/h/held2/held2_2.0-1_amd64.deb", e.Details["filename"])
	require.Equal(t, "2.0-1", e.Details["existing_version"])
	require.Contains(t, e.Message, "held2 1:2.0-1 would overwrite it")
	require.Equal(t, before, f.claims())

	// Two contents of one version in the same set: the second collides.
	twins := f.packages("twin", "1.0", "1.0", "a", 1)
	twins = append(twins, f.packages("twin", "1.0", "1.0", "b", 1)...)
	_, err = f.claim(append(twins, fresh...))
	require.Equal(t, store.CodePackageConflict, store.ErrorCode(err))
	require.Equal(t, before, f.claims())
}

// TestClaimAddsQuota: a set that would take the repository over its
// package quota is refused whole, naming the limit.
func TestClaimAddsQuota(t *testing.T) {
	t.Parallel()
	f := newClaimFixture(t)
	_, err := f.s.Pool.Exec(t.Context(), `UPDATE repositories SET max_packages = 2500 WHERE id = $1`, f.repo.ID)
	require.NoError(t, err)
	adds := f.packages("q", "1.0", "1.0", "a", 2501)
	_, err = f.claim(adds)
	var e *store.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, store.CodeQuotaExceeded, e.Code)
	require.Equal(t, "packages_per_repository", e.Details["limit"])
	require.EqualValues(t, 2500, e.Details["value"])
	require.Equal(t, [3]int{0, 0, 0}, f.claims())
	_, err = f.claim(adds[:2500])
	require.NoError(t, err)
	require.Equal(t, [3]int{2500, 2500, 2500}, f.claims())
}

// TestClaimAddsConcurrent: 8 transactions at once claim overlapping sets
// of 500, half of them holding a second content of one version; whatever
// the interleaving, a set fails only with package_conflict, the claims are
// exactly those of the sets that succeeded (each version and pool path with
// one holder), and the counter matches them.
func TestClaimAddsConcurrent(t *testing.T) {
	t.Parallel()
	f := newClaimFixture(t)
	base := f.packages("c", "1.0", "1.0", "a", 1000)
	rivals := f.packages("c", "1.0", "1.0", "b", 1000)
	var wg sync.WaitGroup
	sets := make([][]store.ChangeAdd, 8)
	errs := make([]error, len(sets))
	for i := range sets {
		r := rand.New(rand.NewPCG(uint64(i), 1))
		for _, j := range r.Perm(1000)[:500] {
			sets[i] = append(sets[i], base[j])
		}
		if i%2 == 1 {
			sets[i] = append(sets[i], rivals[r.IntN(1000)])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.claim(sets[i])
		}()
	}
	wg.Wait()
	want := map[int64]bool{}
	for i, err := range errs {
		if err != nil {
			require.Equal(t, store.CodePackageConflict, store.ErrorCode(err), "set %d: %v", i, err)
			continue
		}
		for _, a := range sets[i] {
			want[a.PackageID] = true
		}
	}
	require.NotEmpty(t, want, "some set succeeded")
	for _, table := range []string{"repository_packages", "repository_pool"} {
		rows, err := f.s.Pool.Query(t.Context(), `SELECT package_id FROM `+table+` WHERE repository_id = $1`, f.repo.ID)
		require.NoError(t, err)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		require.NoError(t, err)
		got := map[int64]bool{}
		for _, id := range ids {
			got[id] = true
		}
		require.Len(t, ids, len(got), "%s: one row per package", table)
		require.Equal(t, want, got, table)
	}
	require.Equal(t, len(want), f.claims()[2], "the counter")
}
