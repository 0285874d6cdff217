package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/store/storetest"
)

// TestRepositoryQuotaUnderConcurrency: 20 concurrent creates against a
// quota of 5: exactly 5 succeed, the others get quota_exceeded naming the
// limit, and the counter matches the rows.
func TestRepositoryQuotaUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()
	tenant, _, err := s.CreateTenant(ctx, "quota")
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `UPDATE tenants SET max_repositories = 5 WHERE id = $1`, tenant.ID)
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.CreateRepository(ctx, tenant, fmt.Sprintf("repo-%02d", i))
		}()
	}
	wg.Wait()
	ok, created := 0, ""
	for i, err := range errs {
		if err == nil {
			ok++
			created = fmt.Sprintf("repo-%02d", i)
			continue
		}
		var e *store.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, store.CodeQuotaExceeded, e.Code, "%v", err)
		require.Equal(t, "repositories", e.Details["limit"])
		require.EqualValues(t, 5, e.Details["value"])
	}
	require.Equal(t, 5, ok)
	var rows, counter int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM repositories`).Scan(&rows))
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT repositories FROM tenants WHERE id = $1`, tenant.ID).Scan(&counter))
	require.Equal(t, 5, rows)
	require.Equal(t, 5, counter)

	// A name collision is a conflict on the name, whatever the quota.
	_, err = s.CreateRepository(ctx, tenant, created)
	require.Equal(t, store.CodeConflict, store.ErrorCode(err))
}

// TestAtomicReportsFailedStatement: when the third statement fails, none of
// the three takes effect and the error names the third and its constraint.
func TestAtomicReportsFailedStatement(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()
	_, _, err := s.CreateTenant(ctx, "taken")
	require.NoError(t, err)

	err = s.Atomic(ctx,
		store.Stmt("first tenant", `INSERT INTO tenants (name) VALUES ('one')`),
		store.Stmt("second tenant", `INSERT INTO tenants (name) VALUES ('two')`),
		store.Stmt("duplicate tenant", `INSERT INTO tenants (name) VALUES ('taken')`),
	)
	var step *store.StepError
	require.ErrorAs(t, err, &step)
	require.Equal(t, 2, step.Index)
	require.Equal(t, "duplicate tenant", step.Name)
	require.Equal(t, "tenants_name_key", step.Constraint)
	require.ErrorIs(t, err, store.ErrConflict)

	var n int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&n))
	require.Equal(t, 1, n, "the first two inserts were rolled back")

	err = s.Atomic(ctx, store.Statement{Name: "touch nothing", SQL: `UPDATE tenants SET name = name WHERE false`, Rows: 1})
	require.ErrorAs(t, err, &step)
	require.Equal(t, store.CodeConflict, store.ErrorCode(err))
}
