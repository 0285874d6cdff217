package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/store"
)

// digest is a digest of every row of the tables a release update or
// delete could change, to show that a refused one changed nothing.
func (b *bundle) digest() map[string]string {
	b.t.Helper()
	out := map[string]string{}
	for _, tbl := range []string{"repositories", "releases", "changes", "river_job", "audit_log", "job_events"} {
		var d string
		require.NoError(b.t, b.store.Pool.QueryRow(context.Background(),
			`SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM `+pgx.Identifier{tbl}.Sanitize()+` t`).Scan(&d))
		out[tbl] = d
	}
	return out
}

// releaseEditSetup is a tenant with repository r and release stable
// (components main and contrib), and a package uploaded.
func releaseEditSetup(t *testing.T) (*bundle, string) {
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "stable", "components": []string{"main", "contrib"}}, nil))
	deb := debtest.Build(t, debtest.Options{Package: "held", Version: "1.0", Architecture: "amd64"})
	sum := sha256Hex(deb)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sum, deb, nil))
	return b, sum
}

// TestReleaseUpdateRefused: every malformed or hostile update is a 4xx
// with its code, and changes nothing.
func TestReleaseUpdateRefused(t *testing.T) {
	t.Parallel()
	b, _ := releaseEditSetup(t)
	const path = "/v1/repos/r/releases/stable"
	fp := strings.Repeat("A1", 20)
	many := make([]string, 65)
	for i := range many {
		many[i] = fmt.Sprintf("c%d", i)
	}
	huge := make([]string, 50000)
	for i := range huge {
		huge[i] = "x"
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"unknown field", map[string]any{"labl": "x"}, 400, codeBadRequest},
		{"field of another type", map[string]any{"components": "main"}, 400, codeBadRequest},
		{"trailing data", []byte(`{"label":"x"} {"label":"y"}`), 400, codeTrailingData},
		{"newline injection into Label", map[string]any{"label": "x\nSHA256:\n " + strings.Repeat("0", 64) + " 1 main/evil"}, 422, store.CodeInvalid},
		{"carriage return in Origin", map[string]any{"origin": "x\rSuite: evil"}, 422, store.CodeInvalid},
		{"NUL in Description", map[string]any{"description": "a\x00b"}, 422, store.CodeInvalid},
		{"leading space, which Release cannot keep", map[string]any{"description": " x"}, 422, store.CodeInvalid},
		{"huge Label", map[string]any{"label": strings.Repeat("a", 10000)}, 422, store.CodeInvalid},
		{"body over the cap", map[string]any{"description": strings.Repeat("a", maxJSONBody)}, 413, codeTooLarge},
		{"empty Origin", map[string]any{"origin": ""}, 422, store.CodeInvalid},
		{"component escaping dists", map[string]any{"add_components": []string{"../../pool"}}, 422, store.CodeInvalid},
		{"component with a space", map[string]any{"add_components": []string{"main evil"}}, 422, store.CodeInvalid},
		{"architecture all", map[string]any{"add_architectures": []string{"all"}}, 422, store.CodeInvalid},
		{"too many components", map[string]any{"add_components": many}, 422, store.CodeInvalid},
		{"a huge list", map[string]any{"add_architectures": huge}, 422, store.CodeInvalid},
		{"removing a component it lacks", map[string]any{"remove_components": []string{"non-free"}}, 422, store.CodeInvalid},
		{"removing every architecture", map[string]any{"remove_architectures": []string{"amd64"}}, 422, store.CodeInvalid},
		{"ButAutomaticUpgrades without NotAutomatic", map[string]any{"but_automatic_upgrades": true}, 422, store.CodeInvalid},
		{"Signed-By not a fingerprint", map[string]any{"signed_by": "/etc/apt/keyrings/evil.gpg"}, 422, store.CodeInvalid},
		{"Signed-By with a newline", map[string]any{"signed_by": fp + "\nSHA256: x"}, 422, store.CodeInvalid},
		{"Signed-By of a short key id", map[string]any{"signed_by": "DEADBEEF"}, 422, store.CodeInvalid},
		{"Signed-By too many", map[string]any{"signed_by": strings.Repeat(fp+",", 9)}, 422, store.CodeInvalid},
		{"valid_for under an hour", map[string]any{"valid_for": "5m"}, 422, store.CodeInvalid},
		{"unknown compression", map[string]any{"compressions": []string{"zstd"}}, 422, store.CodeInvalid},
		{"no compression", map[string]any{"compressions": []string{}}, 422, store.CodeInvalid},
		{"keep_versions negative", map[string]any{"keep_versions": -1}, 422, store.CodeInvalid},
		{"keep_versions over the limit", map[string]any{"keep_versions": maxKeepVersions + 1}, 422, store.CodeInvalid},
		{"keep_versions overflowing an int", []byte(`{"keep_versions": 99999999999999999999}`), 400, codeBadRequest},
		{"keep_versions not a whole number", map[string]any{"keep_versions": 2.5}, 400, codeBadRequest},
		{"keep_versions as text", map[string]any{"keep_versions": "2"}, 400, codeBadRequest},
		{"unknown release", nil, 404, store.CodeNotFound},
	}
	before := b.digest()
	for _, tc := range cases {
		p := path
		if tc.body == nil {
			p = "/v1/repos/r/releases/nope"
			tc.body = map[string]any{"label": "x"}
		}
		var e ErrorBody
		require.Equal(t, tc.status, b.do(http.MethodPatch, p, tc.body, &e), "%s: %+v", tc.name, e)
		require.Equal(t, tc.code, e.Code, "%s: %+v", tc.name, e)
		require.Equal(t, before, b.digest(), "%s changed something", tc.name)
	}
}

// TestReleaseUpdateAccepted: an update becomes a change carrying its
// settings and a job, audited; the release row changes only when a round
// commits it; an update that changes nothing is said so, with no job.
func TestReleaseUpdateAccepted(t *testing.T) {
	t.Parallel()
	b, _ := releaseEditSetup(t)
	ctx := context.Background()
	const path = "/v1/repos/r/releases/stable"
	var res ReleaseUpdateResponse
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPatch, path, map[string]any{"label": "New", "not_automatic": true,
		"but_automatic_upgrades": true, "signed_by": strings.ToLower(strings.Repeat("ab", 20)) + " " + strings.Repeat("CD", 32) + "!",
		"add_architectures": []string{"arm64"}, "valid_for": "7d"}, &res))
	require.True(t, res.Changed)
	require.NotZero(t, res.JobID)
	change, err := b.store.Change(ctx, res.ChangeID)
	require.NoError(t, err)
	require.Equal(t, store.ChangePending, change.State)
	require.NotNil(t, change.Settings)
	require.Equal(t, "New", *change.Settings.Label)
	require.Equal(t, strings.Repeat("AB", 20)+", "+strings.Repeat("CD", 32)+"!", *change.Settings.SignedBy, "normalized")
	require.Equal(t, int64(7*24*3600), *change.Settings.ValidFor)
	var rel ReleaseResponse
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, path, nil, &rel))
	require.Equal(t, "r", rel.Label, "unchanged until a round commits it")
	require.Equal(t, 1, b.countWhere("audit_log", "action = 'release.update'"))

	// The same again (over the pending update) and a field as it is: nothing to do.
	before := b.digest()
	for _, body := range []map[string]any{{"label": "New"}, {"origin": "r"}, {"add_architectures": []string{"arm64"}}, {}} {
		res = ReleaseUpdateResponse{}
		require.Equal(t, http.StatusOK, b.do(http.MethodPatch, path, body, &res), "%v", body)
		require.False(t, res.Changed, "%v", body)
		require.Zero(t, res.JobID)
	}
	require.Equal(t, before, b.digest())

	// Options on create are checked the same way.
	b.expectError(http.MethodPost, "/v1/repos/r/releases", map[string]any{"name": "bp", "but_automatic_upgrades": true},
		422, store.CodeInvalid)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "bp", "not_automatic": true, "but_automatic_upgrades": true}, &rel))
	require.True(t, rel.NotAutomatic)
	require.True(t, rel.ButAutomaticUpgrades)
}

// TestReleaseUpdateKeepVersions: keep_versions is a setting of the update
// like the others: recorded in the change (0 too, which drops the
// retention), the release unchanged until a round commits it, a repeat
// over the pending update a no-op; a publish token cannot change it (the
// route is admin's, and lowering the retention removes packages).
func TestReleaseUpdateKeepVersions(t *testing.T) {
	t.Parallel()
	b, _ := releaseEditSetup(t)
	ctx := context.Background()
	const path = "/v1/repos/r/releases/stable"
	var res ReleaseUpdateResponse
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPatch, path, map[string]any{"keep_versions": 3}, &res))
	change, err := b.store.Change(ctx, res.ChangeID)
	require.NoError(t, err)
	require.NotNil(t, change.Settings.KeepVersions)
	require.Equal(t, 3, *change.Settings.KeepVersions)
	require.Nil(t, change.Settings.Label, "only what the request names")
	var rel ReleaseResponse
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, path, nil, &rel))
	require.Zero(t, rel.KeepVersions, "unchanged until a round commits it")

	before := b.digest()
	res = ReleaseUpdateResponse{}
	require.Equal(t, http.StatusOK, b.do(http.MethodPatch, path, map[string]any{"keep_versions": 3}, &res))
	require.False(t, res.Changed, "3 is what the pending update leaves")
	require.Equal(t, before, b.digest())

	require.Equal(t, http.StatusAccepted, b.do(http.MethodPatch, path, map[string]any{"keep_versions": 0}, &res))
	change, err = b.store.Change(ctx, res.ChangeID)
	require.NoError(t, err)
	require.NotNil(t, change.Settings.KeepVersions, "0 is a value: keep all")
	require.Zero(t, *change.Settings.KeepVersions)

	for _, scope := range []string{read, publish} {
		_, secret, err := b.store.CreateToken(ctx, store.TokenSpec{TenantID: &b.tenant.ID, Name: "ci-" + scope, Scope: scope})
		require.NoError(t, err)
		as := *b
		as.token = secret
		before = b.digest()
		as.expectError(http.MethodPatch, path, map[string]any{"keep_versions": 1}, http.StatusForbidden, codeForbidden)
		require.Equal(t, before, b.digest(), "a %s token changed something", scope)
	}
}

// countWhere counts a table's rows matching a condition.
func (b *bundle) countWhere(table, cond string) int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.store.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+` WHERE `+cond).Scan(&n))
	return n
}

// TestReleaseUpdateRemovesOnlyEmpty: a component or an architecture that
// holds a package (here a pending one) is not removed: 409 naming it, and
// nothing changes.
func TestReleaseUpdateRemovesOnlyEmpty(t *testing.T) {
	t.Parallel()
	b, sum := releaseEditSetup(t)
	const path = "/v1/repos/r/releases/stable"
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "two", "architectures": []string{"amd64", "arm64"}}, nil))
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, path+"/changes",
		map[string]any{"adds": []map[string]string{{"sha256": sum, "component": "contrib"}}}, nil))
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/r/releases/two/changes",
		map[string]any{"adds": []map[string]string{{"sha256": sum, "component": "main"}}}, nil))
	before := b.digest()
	e := b.expectError(http.MethodPatch, path, map[string]any{"remove_components": []string{"contrib"}}, 409, store.CodeConflict)
	require.Contains(t, e.Message, "component contrib holds 1 packages")
	require.Equal(t, "contrib", e.Details["component"])
	e = b.expectError(http.MethodPatch, "/v1/repos/r/releases/two", map[string]any{"remove_architectures": []string{"amd64"}}, 409, store.CodeConflict)
	require.Equal(t, "amd64", e.Details["architecture"])
	require.Equal(t, before, b.digest())
	// The empty ones go.
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPatch, path, map[string]any{"remove_components": []string{"main"}}, nil))
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPatch, "/v1/repos/r/releases/two",
		map[string]any{"remove_architectures": []string{"arm64"}}, nil))

	// Changes see the components as the pending updates leave them.
	add := func(comp string) map[string]any {
		return map[string]any{"adds": []map[string]string{{"sha256": sum, "component": comp}}}
	}
	before = b.digest()
	e = b.expectError(http.MethodPost, path+"/changes", add("main"), 422, store.CodeInvalid)
	require.Contains(t, e.Message, `has no component "main"`)
	require.Equal(t, before, b.digest())
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPatch, path, map[string]any{"add_components": []string{"extra"}}, nil))
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, path+"/changes", add("extra"), nil))
}

// TestReleaseDelete: refused while a change is pending; once accepted the
// release takes no change, update or second delete, and shows as being
// deleted; a repository delete covers its releases and refuses new ones.
func TestReleaseDelete(t *testing.T) {
	t.Parallel()
	b, sum := releaseEditSetup(t)
	const path = "/v1/repos/r/releases/stable"
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases", map[string]any{"name": "busy"}, nil))
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/r/releases/busy/changes",
		map[string]any{"adds": []map[string]string{{"sha256": sum, "component": "main"}}}, nil))

	before := b.digest()
	e := b.expectError(http.MethodDelete, "/v1/repos/r/releases/busy", nil, 409, store.CodeConflict)
	require.Contains(t, e.Message, "1 unpublished change(s)")
	e = b.expectError(http.MethodDelete, "/v1/repos/r", nil, 409, store.CodeConflict)
	require.Contains(t, e.Message, "1 unpublished change(s)")
	require.Equal(t, before, b.digest())

	var del DeleteResponse
	require.Equal(t, http.StatusAccepted, b.do(http.MethodDelete, path, nil, &del))
	require.NotZero(t, del.JobID)
	require.Equal(t, 1, b.countWhere("river_job", fmt.Sprintf("id = %d AND kind = 'delete_release'", del.JobID)))
	require.Equal(t, 1, b.countWhere("audit_log", "action = 'release.delete' AND target = 'r/stable'"))
	var rel ReleaseResponse
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, path, nil, &rel))
	require.True(t, rel.Deleting)

	before = b.digest()
	b.expectError(http.MethodPost, path+"/changes", map[string]any{"adds": []map[string]string{{"sha256": sum, "component": "main"}}},
		409, store.CodeDeleting)
	b.expectError(http.MethodPost, path+"/resign", nil, 409, store.CodeDeleting)
	b.expectError(http.MethodPatch, path, map[string]any{"label": "x"}, 409, store.CodeDeleting)
	b.expectError(http.MethodDelete, path, nil, 409, store.CodeDeleting)
	b.expectError(http.MethodPost, "/v1/repos/r/releases", map[string]any{"name": "stable"}, 409, store.CodeConflict)
	require.Equal(t, before, b.digest())

	// The busy release's change ends (cancelled); then the repository goes.
	var ref struct{ JobID int64 }
	require.NoError(t, b.store.Pool.QueryRow(context.Background(),
		`SELECT job_id FROM changes WHERE state = 'pending'`).Scan(&ref.JobID))
	require.Equal(t, http.StatusOK, b.do(http.MethodDelete, fmt.Sprintf("/v1/jobs/%d", ref.JobID), nil, nil))
	require.Equal(t, http.StatusAccepted, b.do(http.MethodDelete, "/v1/repos/r", &struct{}{}, &del))
	require.Equal(t, 1, b.countWhere("river_job", fmt.Sprintf("id = %d AND kind = 'delete_repository'", del.JobID)))
	require.Equal(t, 0, b.countWhere("releases", "deleting_at IS NULL"))
	b.expectError(http.MethodPost, "/v1/repos/r/releases", map[string]any{"name": "new"}, 409, store.CodeDeleting)
	b.expectError(http.MethodDelete, "/v1/repos/r", nil, 409, store.CodeDeleting)
}
