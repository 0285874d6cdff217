package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
)

// TestNameRules: a name the database refuses is a 422 invalid that says
// what a name may be and which field is wrong, never a constraint's name;
// nothing is created.
func TestNameRules(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	tenantToken := b.token
	_, operator, err := b.store.CreateToken(t.Context(), store.TokenSpec{Name: "ops"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "mine"}, nil))
	long := "a" + strings.Repeat("b", 63)

	for _, c := range []struct {
		token, path, name, table, rule string
	}{
		{operator, "/v1/tenants", "Acme_Corp", "tenants",
			"tenant name must be 1–63 characters: lowercase letters, digits and '-', starting with a letter or digit"},
		{operator, "/v1/tenants", long, "tenants", "tenant name must be"},
		{tenantToken, "/v1/repos", "-tools", "repositories",
			"repository name must be 1–63 characters: lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"},
		{tenantToken, "/v1/repos", "My Repo", "repositories", "repository name must be"},
		{tenantToken, "/v1/repos/mine/releases", "stable/updates", "releases",
			"release name must be 1–63 characters: letters, digits, '.', '_' and '-', starting with a letter or digit"},
		{tenantToken, "/v1/repos/mine/releases", long, "releases", "release name must be"},
	} {
		b.token = c.token
		before := b.count(c.table)
		e := b.expectError(http.MethodPost, c.path, map[string]string{"name": c.name}, http.StatusUnprocessableEntity, store.CodeInvalid)
		require.True(t, strings.HasPrefix(e.Message, c.rule), "%s %q: %q", c.path, c.name, e.Message)
		require.NotContains(t, e.Message, "_check", c.path)
		require.NotContains(t, e.Message, "constraint", c.path)
		require.Equal(t, map[string]any{"field": "name"}, e.Details, c.path)
		require.Equal(t, before, b.count(c.table), "%s %q created something", c.path, c.name)
	}
	b.token = tenantToken
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/healthz", nil, nil))
}
