package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
)

// TestAuditLog: each admin action is recorded with the token that made it;
// a refused action records nothing (the entry is in the action's
// transaction); the log pages like GET /v1/jobs.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	f := newScopeFixture(t)
	_, boss := f.token(store.TokenSpec{Name: "boss", Scope: admin})
	_, ci := f.token(store.TokenSpec{Name: "ci", Scope: publish})
	f.bundle.token = boss
	start := f.count("audit_log")

	// Refused actions leave no entry.
	f.expectError(http.MethodPost, "/v1/repos", map[string]string{"name": "mine"}, http.StatusConflict, store.CodeConflict)
	f.expectError(http.MethodDelete, "/v1/repos/mine/keys/"+f.key, nil, http.StatusConflict, store.CodeLastKey)
	f.expectError(http.MethodPost, "/v1/repos/mine/releases/stable/rollback", map[string]any{"generation": 1},
		http.StatusUnprocessableEntity, store.CodeInvalid)
	f.expectError(http.MethodPost, "/v1/tokens", map[string]any{"name": "x", "scope": "root"},
		http.StatusUnprocessableEntity, store.CodeInvalid)
	require.Equal(t, start, f.count("audit_log"))

	_, pub2, err := sign.GenerateKey("b", "b@example.com")
	require.NoError(t, err)
	var key KeyResponse
	var tok TokenResponse
	require.Equal(t, http.StatusCreated, f.do(http.MethodPost, "/v1/repos", map[string]string{"name": "new"}, nil))
	require.Equal(t, http.StatusCreated, f.do(http.MethodPost, "/v1/repos/new/releases", map[string]any{"name": "beta"}, nil))
	require.Equal(t, http.StatusCreated, f.do(http.MethodPost, "/v1/repos/mine/keys", map[string]string{"armored": string(pub2)}, &key))
	require.Equal(t, http.StatusNoContent, f.do(http.MethodDelete, "/v1/repos/mine/keys/"+key.Fingerprint, nil, nil))
	require.Equal(t, http.StatusCreated, f.do(http.MethodPost, "/v1/tokens", map[string]any{"name": "bot", "scope": "read"}, &tok))
	require.Equal(t, http.StatusNoContent, f.do(http.MethodDelete, fmt.Sprintf("/v1/tokens/%d", tok.ID), nil, nil))
	f.bundle.token = ci // publish-scope actions are audited too
	require.Equal(t, http.StatusAccepted, f.do(http.MethodPost, "/v1/repos/mine/releases/stable/resign", nil, nil))
	require.Equal(t, http.StatusAccepted, f.do(http.MethodPost, "/v1/repos/mine/releases/stable/reconcile", nil, nil))
	// A package change is recorded on the change (its submitter), not here.
	require.Equal(t, http.StatusAccepted, f.do(http.MethodPost, "/v1/repos/mine/releases/stable/changes",
		map[string]any{"adds": []map[string]string{{"sha256": f.sum, "component": "main"}}}, nil))
	f.expectError(http.MethodGet, "/v1/audit", nil, http.StatusForbidden, codeForbidden)

	f.bundle.token = boss
	var page struct {
		Entries    []AuditResponse
		NextCursor int64 `json:"next_cursor"`
	}
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, "/v1/audit?limit=500", nil, &page))
	require.Zero(t, page.NextCursor)
	type entry struct{ action, target, token string }
	var got []entry
	for _, e := range page.Entries {
		require.NotNil(t, e.Token)
		got = append(got, entry{e.Action, e.Target, e.Token.Name})
	}
	require.Equal(t, []entry{
		{"release.reconcile", "mine/stable", "ci"},
		{"release.resign", "mine/stable", "ci"},
		{"token.revoke", "bot", "boss"},
		{"token.create", "bot", "boss"},
		{"key.remove", "mine", "boss"},
		{"key.add", "mine", "boss"},
		{"release.create", "new/beta", "boss"},
		{"repo.create", "new", "boss"},
		// The fixture's setup, by the tenant's first token.
		{"release.create", "mine/stable", "initial"},
		{"key.add", "mine", "initial"},
		{"repo.create", "other", "initial"},
		{"repo.create", "mine", "initial"},
	}, got)
	require.Equal(t, key.Fingerprint, page.Entries[4].Details["fingerprint"])
	require.Equal(t, "read", page.Entries[3].Details["scope"])

	// Pages of two, newest first, until the cursor runs out.
	var all []int64
	cursor := ""
	for {
		require.Equal(t, http.StatusOK, f.do(http.MethodGet, "/v1/audit?limit=2"+cursor, nil, &page))
		for _, e := range page.Entries {
			all = append(all, e.ID)
		}
		if page.NextCursor == 0 {
			break
		}
		cursor = fmt.Sprintf("&cursor=%d", page.NextCursor)
		page.NextCursor = 0
	}
	require.Len(t, all, len(got))
	for i := 1; i < len(all); i++ {
		require.Less(t, all[i], all[i-1])
	}
}

// TestSubmitterAndSigner: a job names the token that submitted its change,
// and its round the token whose signature was accepted.
func TestSubmitterAndSigner(t *testing.T) {
	t.Parallel()
	f := newScopeFixture(t)
	ciTok, ci := f.token(store.TokenSpec{Name: "ci", Scope: publish})
	var job JobResponse
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, fmt.Sprintf("/v1/jobs/%d", f.job), nil, &job))
	require.NotNil(t, job.Submitter)
	require.Equal(t, "initial", job.Submitter.Name)
	require.Nil(t, job.Round.SignedBy)

	inRelease, releaseGPG, err := sign.Sign(f.round.ReleaseBytes, f.signer)
	require.NoError(t, err)
	f.bundle.token = ci
	require.Equal(t, http.StatusOK, f.do(http.MethodPost, fmt.Sprintf("/v1/rounds/%d/signature", f.round.ID),
		map[string]any{"generation": 1, "inrelease": string(inRelease), "release_gpg": string(releaseGPG)}, nil))
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, fmt.Sprintf("/v1/jobs/%d", f.job), nil, &job))
	require.Equal(t, &TokenRef{ID: ciTok.ID, Name: "ci"}, job.Round.SignedBy)
	var list struct{ Jobs []JobResponse }
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, "/v1/jobs", nil, &list))
	require.Equal(t, "initial", list.Jobs[0].Submitter.Name)
}
