package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/store"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	for _, header := range []string{"", "Bearer", "Bearer aptq_nope", "Basic abc", "bearer " + b.token} {
		req, err := http.NewRequest(http.MethodGet, b.server.URL+"/v1/repos", nil)
		require.NoError(t, err)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "header %q", header)
	}
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/repos", nil, nil))
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	var checks map[string]string
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/readyz", nil, &checks))
	require.Equal(t, map[string]string{"postgres": "ok", "s3": "ok"}, checks)
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/healthz", nil, nil))
}

// TestUploadRejections: bad uploads get a 4xx with a code and store nothing.
func TestUploadRejections(t *testing.T) {
	t.Parallel()
	b := setup(t, 64<<10)
	deb := debtest.Build(t, debtest.Options{Package: "ok", Version: "1.0", Architecture: "amd64"})
	notDeb := []byte("!<arch>\nthis is not a debian package at all")
	big := debtest.Build(t, debtest.Options{Package: "big", Version: "1.0", Architecture: "amd64", DataSize: 128 << 10})
	noVersion := debtest.Build(t, debtest.Options{Control: []byte("Package: x\nArchitecture: amd64\n")})

	b.expectError(http.MethodPut, "/v1/packages/"+sha256Hex(deb[1:]), deb, 422, "checksum_mismatch")
	b.expectError(http.MethodPut, "/v1/packages/"+sha256Hex(notDeb), notDeb, 422, "invalid_package")
	b.expectError(http.MethodPut, "/v1/packages/"+sha256Hex(noVersion), noVersion, 422, "invalid_package")
	b.expectError(http.MethodPut, "/v1/packages/"+sha256Hex(big), big, 413, "too_large")
	b.expectError(http.MethodPut, "/v1/packages/NOT-A-HASH", deb, 400, "bad_request")
	require.Zero(t, b.count("packages"))
	require.Equal(t, http.StatusNotFound, b.do(http.MethodHead, "/v1/packages/"+sha256Hex(deb), nil, nil))

	var p PackageResponse
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, &p))
	require.Equal(t, PackageResponse{SHA256: sha256Hex(deb), Name: "ok", Version: "1.0", Architecture: "amd64",
		Source: "ok", Size: int64(len(deb))}, p)
	require.Equal(t, http.StatusOK, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil), "idempotent")
	require.Equal(t, http.StatusOK, b.do(http.MethodHead, "/v1/packages/"+sha256Hex(deb), nil, nil))
	require.Equal(t, 1, b.count("packages"))
}

// TestChangeRejections: invalid changes are refused before anything is
// recorded or enqueued.
func TestChangeRejections(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	b.expectError(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, 409, "conflict")
	b.expectError(http.MethodPost, "/v1/repos", map[string]string{"name": "Bad Name"}, 422, "invalid")
	b.expectError(http.MethodPost, "/v1/repos", map[string]any{"name": "x", "typo": 1}, 400, "bad_request")
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "stable", "architectures": []string{"amd64"}}, nil))
	b.expectError(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "bad", "architectures": []string{"all"}}, 422, "invalid")
	b.expectError(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "bad", "description": "two\nlines"}, 422, "invalid")
	b.expectError(http.MethodPost, "/v1/repos/nope/releases", map[string]any{"name": "x"}, 404, "not_found")

	upload := func(o debtest.Options) string {
		deb := debtest.Build(t, o)
		var e ErrorBody
		require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, &e), "%+v", e)
		return sha256Hex(deb)
	}
	amd := upload(debtest.Options{Package: "pp", Version: "1.0", Architecture: "amd64"})
	arm := upload(debtest.Options{Package: "qq", Version: "1.0", Architecture: "arm64"})
	sameNameOtherContent := upload(debtest.Options{Package: "pp", Version: "1.0", Architecture: "amd64", Depends: "libc6"})

	add := func(sha, component string) map[string]any {
		return map[string]any{"adds": []map[string]string{{"sha256": sha, "component": component}}}
	}
	path := "/v1/repos/r/releases/stable/changes"
	b.expectError(http.MethodPost, path, map[string]any{}, 422, "invalid")
	b.expectError(http.MethodPost, path, add(sha256Hex([]byte("unknown")), "main"), 422, "unknown_package")
	b.expectError(http.MethodPost, path, add(amd, "contrib"), 422, "invalid")
	b.expectError(http.MethodPost, path, add(arm, "main"), 422, "invalid")
	b.expectError(http.MethodPost, "/v1/repos/r/releases/nope/changes", add(amd, "main"), 404, "not_found")
	require.Zero(t, b.count("changes"))
	require.Zero(t, b.count("river_job"))

	var ref map[string]int64
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, path, add(amd, "main"), &ref))
	require.NotZero(t, ref["job_id"])
	e := b.expectError(http.MethodPost, path, add(sameNameOtherContent, "main"), 409, "package_conflict")
	require.Equal(t, amd, e.Details["existing_sha256"])
	require.Equal(t, 1, b.count("changes"))
	require.Equal(t, 1, b.count("river_job"))
}

// TestQuotas: a full quota is a 422 naming the limit, and changes nothing.
func TestQuotas(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	_, err := b.store.Pool.Exec(t.Context(), `UPDATE tenants SET max_repositories = 1, max_upload_bytes = 2000 WHERE id = $1`, b.tenant.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "one"}, nil))
	e := b.expectError(http.MethodPost, "/v1/repos", map[string]string{"name": "two"}, 422, "quota_exceeded")
	require.Equal(t, "repositories", e.Details["limit"])
	require.EqualValues(t, 1, e.Details["value"])

	small := debtest.Build(t, debtest.Options{Package: "small", Version: "1.0", Architecture: "amd64"})
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(small), small, nil))
	big := debtest.Build(t, debtest.Options{Package: "big", Version: "1.0", Architecture: "amd64", DataSize: 4096})
	e = b.expectError(http.MethodPut, "/v1/packages/"+sha256Hex(big), big, 422, "quota_exceeded")
	require.Equal(t, "upload_bytes", e.Details["limit"])
	require.Equal(t, 1, b.count("packages"))
	require.Equal(t, 1, b.count("repositories"))

	// The repository shows its use, so a client can refuse up front what
	// would fail after its uploads; only the accepted upload counts.
	_, err = b.store.Pool.Exec(t.Context(), `UPDATE repositories SET max_packages = 7 WHERE tenant_id = $1`, b.tenant.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/one/releases", map[string]any{"name": "stable"}, nil))
	var ref map[string]int64
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/one/releases/stable/changes",
		map[string]any{"adds": []map[string]string{{"sha256": sha256Hex(small), "component": "main"}}}, &ref))
	var repo RepoResponse
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/repos/one", nil, &repo))
	require.Equal(t, &QuotaResponse{Packages: 1, MaxPackages: 7, UploadBytes: int64(len(small)), MaxUploadBytes: 2000}, repo.Quota)
}

// TestOperatorToken: an operator token creates tenants and cannot act as a
// tenant; a tenant token cannot create tenants (404, no sign of the route).
func TestOperatorToken(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	tenantToken := b.token
	_, operator, err := b.store.CreateToken(t.Context(), store.TokenSpec{Name: "ops"})
	require.NoError(t, err)

	b.expectError(http.MethodPost, "/v1/tenants", map[string]string{"name": "newco"}, 404, "not_found")
	b.token = operator
	var created struct {
		Name  string `json:"name"`
		Token string `json:"token"`
	}
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/tenants", map[string]string{"name": "newco"}, &created))
	require.Equal(t, "newco", created.Name)
	b.expectError(http.MethodGet, "/v1/repos", nil, 403, "forbidden")

	b.token = created.Token
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/repos", nil, nil))
	var tokens struct {
		Tokens []TokenResponse `json:"tokens"`
	}
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/tokens", nil, &tokens))
	require.Len(t, tokens.Tokens, 1)
	require.Empty(t, tokens.Tokens[0].Token, "secrets are never listed")
	require.Equal(t, http.StatusNoContent, b.do(http.MethodDelete, fmt.Sprintf("/v1/tokens/%d", tokens.Tokens[0].ID), nil, nil))
	b.expectError(http.MethodGet, "/v1/repos", nil, 401, "unauthorized")
	b.token = tenantToken
}
