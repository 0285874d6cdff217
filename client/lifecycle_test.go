package client

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRemoveKey(t *testing.T) {
	t.Parallel()
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodDelete, r.Method)
		switch r.URL.Path {
		case "/v1/repos/acme/keys/AAAA":
			w.WriteHeader(http.StatusNoContent)
		case "/v1/repos/acme/keys/BBBB":
			writeJSON(w, http.StatusConflict, `{"code":"last_key","message":"acme keeps at least one key"}`)
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
		}
	})
	require.NoError(t, c.RemoveKey(t.Context(), "acme", "AAAA"))
	err := c.RemoveKey(t.Context(), "acme", "BBBB")
	require.Equal(t, CodeLastKey, ErrorCode(err))
}

func TestResignAndRollback(t *testing.T) {
	t.Parallel()
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodPost, r.Method)
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/repos/acme/releases/stable/resign":
			assert.JSONEq(t, `{}`, string(body))
			writeJSON(w, http.StatusAccepted, `{"job_id":5,"change_id":6}`)
		case "/v1/repos/acme/releases/stable/rollback":
			assert.JSONEq(t, `{"generation":3}`, string(body))
			writeJSON(w, http.StatusAccepted, `{"job_id":7,"change_id":8}`)
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
		}
	})
	ref, err := c.Resign(t.Context(), "acme", "stable")
	require.NoError(t, err)
	require.Equal(t, JobRef{JobID: 5, ChangeID: 6}, ref)
	ref, err = c.Rollback(t.Context(), "acme", "stable", 3)
	require.NoError(t, err)
	require.Equal(t, JobRef{JobID: 7, ChangeID: 8}, ref)
}

func TestHistory(t *testing.T) {
	t.Parallel()
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/v1/repos/acme/releases/stable/history", r.URL.Path)
		assert.Equal(t, "2", r.URL.Query().Get("limit"))
		writeJSON(w, http.StatusOK, `{"generations":[
			{"generation":42,"date":"2025-02-01T10:00:00Z","round_id":9,"changes":3,"adds":5,"removes":1,
			 "signers":["AAAA","BBBB"],"published_at":"2025-02-01T10:00:02Z"},
			{"generation":41,"date":"Fri, 31 Jan 2025 09:00:00 UTC","round_id":8,"changes":1,"signers":["AAAA"]}]}`)
	})
	gens, err := c.History(t.Context(), "acme", "stable", 2)
	require.NoError(t, err)
	require.Len(t, gens, 2)
	require.EqualValues(t, 42, gens[0].Generation)
	require.Equal(t, time.Date(2025, 2, 1, 10, 0, 0, 0, time.UTC), gens[0].Date.UTC())
	require.Equal(t, []string{"AAAA", "BBBB"}, gens[0].Signers)
	require.NotNil(t, gens[0].PublishedAt)
	require.Equal(t, 5, gens[0].Adds)
	require.Equal(t, time.Date(2025, 1, 31, 9, 0, 0, 0, time.UTC), gens[1].Date.UTC(), "Release's own date form")
	require.Nil(t, gens[1].PublishedAt)
}

func TestListReleasePackages(t *testing.T) {
	t.Parallel()
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/v1/repos/acme/releases/stable/packages", r.URL.Path)
		if r.URL.RawQuery == "" {
			writeJSON(w, http.StatusOK, `{"packages":[]}`)
			return
		}
		assert.Equal(t, "architecture=arm64&component=main&name=hello", r.URL.RawQuery)
		writeJSON(w, http.StatusOK, `{"packages":[{"component":"main","name":"hello","version":"1.0",
			"architecture":"arm64","sha256":"ab","size":123,"filename":"pool/main/h/hello/hello_1.0_arm64.deb",
			"control":"Package: hello\nVersion: 1.0\n"}]}`)
	})
	pkgs, err := c.ListReleasePackages(t.Context(), "acme", "stable", PackageFilter{})
	require.NoError(t, err)
	require.Empty(t, pkgs)
	pkgs, err = c.ListReleasePackages(t.Context(), "acme", "stable",
		PackageFilter{Component: "main", Name: "hello", Architecture: "arm64"})
	require.NoError(t, err)
	require.Equal(t, []ReleasePackage{{Component: "main", Name: "hello", Version: "1.0", Architecture: "arm64",
		SHA256: "ab", Size: 123, Filename: "pool/main/h/hello/hello_1.0_arm64.deb",
		Control: "Package: hello\nVersion: 1.0\n"}}, pkgs)
}

func TestCreateReleaseValidFor(t *testing.T) {
	t.Parallel()
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		assert.JSONEq(t, `{"name":"stable","valid_for":"7d"}`, string(body))
		writeJSON(w, http.StatusCreated, `{"name":"stable","valid_for":"168h0m0s"}`)
	})
	rel, err := c.CreateRelease(t.Context(), "acme", ReleaseRequest{Name: "stable", ValidFor: "7d"})
	require.NoError(t, err)
	require.Equal(t, "168h0m0s", rel.ValidFor)
}
