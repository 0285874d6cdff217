package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/store"
)

// promoteFixture is repository "r" with releases "staging" (amd64, arm64;
// components main and extra) and "stable" (amd64, arm64), and staging's
// committed members: hello 1.9 and 1.10 amd64, hello 1.0 arm64, and
// tool 1.0 all.
type promoteFixture struct {
	*bundle
	staging, stable store.Release
}

func newPromoteFixture(t *testing.T) *promoteFixture {
	t.Helper()
	return newPromoteFixtureWith(t, func(*Config) {})
}

// newPromoteFixtureWith is newPromoteFixture on a server configured so.
func newPromoteFixtureWith(t *testing.T, configure func(*Config)) *promoteFixture {
	t.Helper()
	b := setupWith(t, func(c *Config) { c.MaxUploadBytes = 1 << 20; configure(c) })
	f := &promoteFixture{bundle: b}
	ctx := context.Background()
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	for _, name := range []string{"staging", "stable"} {
		require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
			map[string]any{"name": name, "architectures": []string{"amd64", "arm64"}, "components": []string{"main", "extra"}}, nil))
	}
	repo, err := b.store.Repository(ctx, b.tenant.ID, "r")
	require.NoError(t, err)
	f.staging, err = b.store.Release(ctx, repo.ID, "staging")
	require.NoError(t, err)
	f.stable, err = b.store.Release(ctx, repo.ID, "stable")
	require.NoError(t, err)
	for _, o := range []debtest.Options{{Package: "hello", Version: "1.9"}, {Package: "hello", Version: "1.10"},
		{Package: "hello", Version: "1.0", Architecture: "arm64"}, {Package: "tool", Version: "1.0", Architecture: "all"}} {
		f.member(f.staging, "main", f.upload(o))
	}
	return f
}

func (f *promoteFixture) upload(o debtest.Options) store.Package {
	f.t.Helper()
	deb := debtest.Build(f.t, o)
	status := f.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil)
	require.Contains(f.t, []int{http.StatusCreated, http.StatusOK}, status, "the server has it, or has it now")
	p, err := f.store.PackageBySHA256(context.Background(), f.tenant.ID, sha256Hex(deb))
	require.NoError(f.t, err)
	return p
}

// member makes p a committed member, as a round's commit would.
func (f *promoteFixture) member(rel store.Release, component string, p store.Package) {
	f.t.Helper()
	_, err := f.store.Pool.Exec(context.Background(), `INSERT INTO release_packages (release_id, component, package_id, filename)
		VALUES ($1, $2, $3, $4)`, rel.ID, component, p.ID, apt.PoolPath(component, p.Source, p.Name, p.Version, p.Architecture))
	require.NoError(f.t, err)
}

func (f *promoteFixture) plan(path string, body any, status int) PlanResponse {
	f.t.Helper()
	var out PlanResponse
	require.Equal(f.t, status, f.do(http.MethodPost, "/v1/repos/r/releases/"+path, body, &out), "%s %v", path, body)
	return out
}

func item(op, name, version, arch, component string) PlanItem {
	return PlanItem{Op: op, Name: name, Version: version, Architecture: arch, Component: component}
}

func TestCopy(t *testing.T) {
	t.Parallel()
	f := newPromoteFixture(t)
	before := f.snapshot()

	// Dry runs resolve against staging and change nothing.
	got := f.plan("stable/copy", map[string]any{"from_release": "staging", "specs": []string{"hello=1.10"}, "dry_run": true}, 200)
	require.Equal(t, []PlanItem{item("+", "hello", "1.10", "amd64", "main")}, got.Items)
	require.Nil(t, got.JobID)
	got = f.plan("stable/copy", map[string]any{"from_release": "staging", "specs": []string{"hello"}, "dry_run": true}, 200)
	require.ElementsMatch(t, []PlanItem{item("+", "hello", "1.9", "amd64", "main"), item("+", "hello", "1.10", "amd64", "main"),
		item("+", "hello", "1.0", "arm64", "main")}, got.Items)
	got = f.plan("stable/copy", map[string]any{"from_release": "staging", "all": true, "component": "extra", "dry_run": true}, 200)
	require.Len(t, got.Items, 4)
	require.Equal(t, before, f.snapshot(), "a dry run changes nothing")

	// Copying what stable already holds is a no-op: 200, no change.
	f.member(f.stable, "main", f.upload(debtest.Options{Package: "hello", Version: "1.9"}))
	before = f.snapshot()
	got = f.plan("stable/copy", map[string]any{"from_release": "staging", "specs": []string{"hello=1.9:amd64"}}, 200)
	require.Empty(t, got.Items)
	require.Equal(t, 1, got.Unchanged)
	require.Nil(t, got.JobID)
	require.Equal(t, before, f.snapshot())

	// A copy submits one change adding the same content at the same pool path.
	got = f.plan("stable/copy", map[string]any{"from_release": "staging", "from_component": "main", "specs": []string{"hello"}}, 202)
	require.NotNil(t, got.JobID)
	require.Equal(t, 1, got.Unchanged)
	require.Len(t, got.Items, 2)
	c, err := f.store.Change(context.Background(), *got.ChangeID)
	require.NoError(t, err)
	require.Len(t, c.Adds, 2)
	for _, a := range c.Adds {
		var stagingFile string
		require.NoError(t, f.store.Pool.QueryRow(context.Background(), `SELECT filename FROM release_packages
			WHERE release_id = $1 AND package_id = $2`, f.staging.ID, a.PackageID).Scan(&stagingFile))
		require.Equal(t, stagingFile, a.Filename, "the pool file is shared")
	}
}

func TestCopyRejections(t *testing.T) {
	t.Parallel()
	f := newPromoteFixture(t)
	before := f.snapshot()
	copyReq := func(extra map[string]any) map[string]any {
		req := map[string]any{"from_release": "staging", "specs": []string{"hello"}}
		for k, v := range extra {
			req[k] = v
		}
		return req
	}
	path := "/v1/repos/r/releases/stable/copy"
	e := f.expectError(http.MethodPost, path, copyReq(map[string]any{"specs": []string{"nope", "hello=9.9", "hello"}}), 422, store.CodeUnmatchedSpec)
	require.Equal(t, []any{"nope", "hello=9.9"}, e.Details["specs"])
	f.expectError(http.MethodPost, path, copyReq(map[string]any{"all": true}), 422, store.CodeInvalid)
	f.expectError(http.MethodPost, path, map[string]any{"from_release": "staging"}, 422, store.CodeInvalid)
	f.expectError(http.MethodPost, path, copyReq(map[string]any{"from_release": "../../x"}), 422, store.CodeInvalid)
	f.expectError(http.MethodPost, path, copyReq(map[string]any{"from_release": "nope"}), 404, store.CodeNotFound)
	f.expectError(http.MethodPost, path, copyReq(map[string]any{"from_component": "main/../x"}), 422, store.CodeInvalid)
	f.expectError(http.MethodPost, path, copyReq(map[string]any{"component": "contrib"}), 422, store.CodeInvalid)
	f.expectError(http.MethodPost, path, copyReq(map[string]any{"typo": true}), 400, codeBadRequest)
	f.expectError(http.MethodPost, "/v1/repos/r/releases/nope/copy", copyReq(nil), 404, store.CodeNotFound)
	for _, spec := range []string{strings.Repeat("h", 600), "pool/main/h/hello", "../hello", "hello=1.0/../../x", "hello=1.0\x00",
		"hello\n=1.0", "hello=1.0:amd64\r\nX-Evil: 1", "héllo", "hello=${IFS}", "*", "hello*", ""} {
		e := f.expectError(http.MethodPost, path, copyReq(map[string]any{"specs": []string{spec}}), 422, store.CodeInvalid)
		require.Equal(t, "specs[0]", e.Details["field"])
		require.Less(t, len(e.Message), 500, "the message does not echo a huge spec")
	}
	many := make([]string, maxChangeItems+1)
	for i := range many {
		many[i] = "hello"
	}
	f.expectError(http.MethodPost, path, copyReq(map[string]any{"specs": many}), 422, store.CodeInvalid)
	f.expectError(http.MethodPost, path, []byte(`{"from_release":"staging","specs":["`+strings.Repeat("a", 2<<20)+`"]}`), 413, codeTooLarge)
	require.Equal(t, before, f.snapshot(), "nothing changed")

	// --ignore-missing: the others go ahead.
	got := f.plan("stable/copy", copyReq(map[string]any{"specs": []string{"nope", "tool"}, "ignore_missing": true}), 202)
	require.Equal(t, []PlanItem{item("+", "tool", "1.0", "all", "main")}, got.Items)
}

// bulk makes n packages (name, version from pattern's %d) committed
// members of a component of rel, as rounds would have.
func (f *promoteFixture) bulk(rel store.Release, component, namePattern, versionPattern string, n int) {
	f.t.Helper()
	_, err := f.store.Pool.Exec(context.Background(), `
		WITH p AS (
			INSERT INTO packages (tenant_id, sha256, sha512, sha1, md5, size, name, version, architecture, source, control)
			SELECT $1, md5(n || v) || md5(v || n), '', '', '', 1, n, v, 'amd64', n,
				'Package: ' || n || E'\nVersion: ' || v || E'\nArchitecture: amd64\n'
			FROM generate_series(1, $5::int) i, format($3, i) n, format($4, i) v
			RETURNING id, name, version
		)
		INSERT INTO release_packages (release_id, component, package_id, filename)
		SELECT $2, $6, id, 'pool/' || $6 || '/' || left(name, 1) || '/' || name || '/' || name || '_' || version || '_amd64.deb' FROM p`,
		f.tenant.ID, rel.ID, strings.ReplaceAll(namePattern, "%d", "%s"), strings.ReplaceAll(versionPattern, "%d", "%s"), n, component)
	require.NoError(f.t, err)
}

// claims are the repository's version claims, pool claims and counter.
func (f *promoteFixture) claims() [3]int {
	f.t.Helper()
	var c [3]int
	require.NoError(f.t, f.store.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM repository_packages WHERE repository_id = $1),
		(SELECT count(*) FROM repository_pool WHERE repository_id = $1),
		(SELECT packages FROM repositories WHERE id = $1)`, f.stable.RepositoryID).Scan(&c[0], &c[1], &c[2]))
	return c
}

// TestPlanBound: a plan the server makes is not held to the 1000 adds and
// removes of a change a client submits: a copy of 1 500 packages and a
// removal of 1 200 versions of one name are each one change, claimed whole.
// A plan over the server's own bound is refused, naming the bound, and
// changes nothing.
func TestPlanBound(t *testing.T) {
	t.Parallel()
	f := newPromoteFixtureWith(t, func(c *Config) { c.MaxPlanPackages = 1503 })
	f.bulk(f.staging, "extra", "bulk%d", "1.0", 1500)
	before, claimsBefore := f.snapshot(), f.claims()
	e := f.expectError(http.MethodPost, "/v1/repos/r/releases/stable/copy", map[string]any{"from_release": "staging", "all": true},
		422, store.CodeTooManyMatches)
	require.EqualValues(t, 1503, e.Details["limit"])
	require.EqualValues(t, 1500+4, e.Details["matched"])
	require.Equal(t, "max_plan_packages", e.Details["bound"])
	require.Contains(t, e.Message, "at most 1503 (max_plan_packages)")
	f.expectError(http.MethodPost, "/v1/repos/r/releases/stable/copy", map[string]any{"from_release": "staging", "all": true,
		"dry_run": true}, 422, store.CodeTooManyMatches)
	require.Equal(t, before, f.snapshot())
	require.Equal(t, claimsBefore, f.claims())

	got := f.plan("stable/copy", map[string]any{"from_release": "staging", "from_component": "extra", "all": true}, 202)
	require.Len(t, got.Items, 1500)
	c, err := f.store.Change(context.Background(), *got.ChangeID)
	require.NoError(t, err)
	require.Len(t, c.Adds, 1500)
	require.Equal(t, 1, f.count("changes"), "one change")
	require.Equal(t, [3]int{claimsBefore[0] + 1500, claimsBefore[1] + 1500, claimsBefore[2] + 1500}, f.claims(),
		"every package claimed, in the change's transaction")

	f.bulk(f.staging, "main", "many", "2.%d", 1200)
	got = f.plan("staging/removals", map[string]any{"component": "main", "specs": []string{"many"}}, 202)
	require.Len(t, got.Items, 1200)
	c, err = f.store.Change(context.Background(), *got.ChangeID)
	require.NoError(t, err)
	require.Len(t, c.Removes, 1200)
	got = f.plan("staging/prune", map[string]any{"keep": 1, "component": "main", "dry_run": true}, 200)
	require.Len(t, got.Items, 1199+1, "1199 versions of many, and hello 1.9")
}

func TestRemoveByName(t *testing.T) {
	t.Parallel()
	f := newPromoteFixture(t)
	before := f.snapshot()
	path := "/v1/repos/r/releases/staging/removals"
	e := f.expectError(http.MethodPost, path, map[string]any{"component": "main", "specs": []string{"hello", "gone"}}, 422, store.CodeUnmatchedSpec)
	require.Equal(t, []any{"gone"}, e.Details["specs"])
	f.expectError(http.MethodPost, path, map[string]any{"component": "main", "specs": []string{}}, 422, store.CodeInvalid)
	f.expectError(http.MethodPost, path, map[string]any{"component": "../main", "specs": []string{"hello"}}, 422, store.CodeInvalid)
	f.expectError(http.MethodPost, path, map[string]any{"component": "main", "specs": []string{"hello/../../x"}}, 422, store.CodeInvalid)
	// hello is in main, not in extra.
	f.expectError(http.MethodPost, path, map[string]any{"component": "extra", "specs": []string{"hello"}}, 422, store.CodeUnmatchedSpec)
	got := f.plan("staging/removals", map[string]any{"component": "main", "specs": []string{"hello=1.10"}, "dry_run": true}, 200)
	require.Equal(t, []PlanItem{item("-", "hello", "1.10", "amd64", "main")}, got.Items)
	require.Equal(t, before, f.snapshot())

	got = f.plan("staging/removals", map[string]any{"component": "main", "specs": []string{"hello", "gone"}, "ignore_missing": true}, 202)
	require.ElementsMatch(t, []PlanItem{item("-", "hello", "1.9", "amd64", "main"), item("-", "hello", "1.10", "amd64", "main"),
		item("-", "hello", "1.0", "arm64", "main")}, got.Items)
	c, err := f.store.Change(context.Background(), *got.ChangeID)
	require.NoError(t, err)
	require.Len(t, c.Removes, 3)
}

func TestPrune(t *testing.T) {
	t.Parallel()
	f := newPromoteFixture(t)
	f.member(f.staging, "main", f.upload(debtest.Options{Package: "hello", Version: "1:0.1"}))
	before := f.snapshot()
	for _, keep := range []int{0, -1, maxKeepVersions + 1} {
		f.expectError(http.MethodPost, "/v1/repos/r/releases/staging/prune", map[string]any{"keep": keep}, 422, store.CodeInvalid)
	}
	f.expectError(http.MethodPost, "/v1/repos/r/releases/staging/prune", map[string]any{"keep": "2"}, 400, codeBadRequest)
	f.expectError(http.MethodPost, "/v1/repos/r/releases/staging/prune", map[string]any{"keep": 1, "component": "nope"}, 422, store.CodeInvalid)
	require.Equal(t, before, f.snapshot())
	// By dpkg order 1:0.1 > 1.10 > 1.9: keep 2 drops 1.9 only.
	got := f.plan("staging/prune", map[string]any{"keep": 2, "dry_run": true}, 200)
	require.Equal(t, []PlanItem{item("-", "hello", "1.9", "amd64", "main")}, got.Items)
	require.Equal(t, before, f.snapshot())
	got = f.plan("staging/prune", map[string]any{"keep": 1, "component": "main"}, 202)
	require.Equal(t, []PlanItem{item("-", "hello", "1.10", "amd64", "main"), item("-", "hello", "1.9", "amd64", "main")}, got.Items)
	// Nothing left to prune in extra.
	got = f.plan("staging/prune", map[string]any{"keep": 1, "component": "extra"}, 200)
	require.Empty(t, got.Items)
}
