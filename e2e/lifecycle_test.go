package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

// api sends a JSON request as the tenant and decodes the answer.
func (b *bundle) api(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	var r bytes.Buffer
	if body != nil {
		require.NoError(t, json.NewEncoder(&r).Encode(body))
	}
	req, err := http.NewRequest(method, b.URL+path, &r)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 && resp.StatusCode != http.StatusNoContent {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// follow long-polls a job, signing its round with signers, until published.
func follow(ctx context.Context, t *testing.T, c *client.Client, jobID int64, signers ...*sign.Signer) client.Job {
	t.Helper()
	signed := map[int64]bool{}
	last := ""
	for {
		job, err := c.GetJob(ctx, jobID, 30*time.Second, last)
		require.NoError(t, err)
		switch {
		case job.State == client.JobPublished:
			return job
		case job.Done():
			t.Fatalf("job %d ended %s: %+v", jobID, job.State, job.Error)
		case job.Round.AwaitsSignature() && !signed[job.Round.ID]:
			in, gpg, err := sign.Sign([]byte(job.Round.Release), signers...)
			require.NoError(t, err)
			_, err = c.SubmitSignature(ctx, job.Round.ID, client.SignatureRequest{Generation: job.Round.Generation,
				InRelease: string(in), ReleaseGPG: string(gpg)})
			require.NoError(t, err)
			signed[job.Round.ID] = true
		}
		last = job.State
	}
}

// TestReleaseLifecycle: Valid-Until, resign with identical indexes, rollback
// to an older generation's membership as a new generation, history, package
// listing, and a key rotation that apt trusting only the new key accepts.
func TestReleaseLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := client.New(b.URL, b.Token)
	oldPriv, oldPub, err := sign.GenerateKey("old", "old@example.com")
	require.NoError(t, err)
	oldKey, err := sign.ParsePrivateKey(oldPriv, nil)
	require.NoError(t, err)
	newPriv, newPub, err := sign.GenerateKey("new", "new@example.com")
	require.NoError(t, err)
	newKey, err := sign.ParsePrivateKey(newPriv, nil)
	require.NoError(t, err)

	_, err = c.CreateRepo(ctx, "life")
	require.NoError(t, err)
	_, err = c.AddKey(ctx, "life", oldPub)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, b.api(t, http.MethodPost, "/v1/repos/life/releases",
		map[string]any{"name": "stable", "architectures": []string{"amd64"}, "valid_for": "7d"}, nil))

	packagesURL := b.URL + "/apt/" + b.Tenant + "/life/dists/stable/main/binary-amd64/Packages"
	packagesNow := func() []byte {
		body, status, err := getPackages(ctx, packagesURL)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		return body
	}
	publish := func(name string, removes ...client.Remove) client.Job {
		req := client.ChangeRequest{Removes: removes}
		if name != "" {
			deb := debtest.Build(t, debtest.Options{Package: name, Version: "1.0", Architecture: "amd64"})
			sum := sha256.Sum256(deb)
			_, err := c.UploadPackage(ctx, hex.EncodeToString(sum[:]), bytes.NewReader(deb), int64(len(deb)))
			require.NoError(t, err)
			req.Adds = []client.Add{{SHA256: hex.EncodeToString(sum[:]), Component: "main"}}
		}
		ref, err := c.SubmitChange(ctx, "life", "stable", req)
		require.NoError(t, err)
		return follow(ctx, t, c, ref.JobID, oldKey)
	}

	publish("alpha")
	publish("beta")
	gen2 := packagesNow()
	publish("gamma", client.Remove{Name: "alpha", Version: "1.0", Architecture: "amd64", Component: "main"})
	require.NotEqual(t, gen2, packagesNow())

	inRelease, _, err := get(ctx, b.URL+"/apt/"+b.Tenant+"/life/dists/stable/InRelease")
	require.NoError(t, err)
	require.Contains(t, string(inRelease), "Valid-Until: ")

	// Rollback to generation 2: a new generation 4 whose Packages equal generation 2's.
	var ref client.JobRef
	require.Equal(t, http.StatusAccepted, b.api(t, http.MethodPost, "/v1/repos/life/releases/stable/rollback",
		map[string]int64{"generation": 2}, &ref))
	job := follow(ctx, t, c, ref.JobID, oldKey)
	require.Equal(t, int64(4), job.Generation)
	require.Equal(t, gen2, packagesNow())
	require.Equal(t, http.StatusUnprocessableEntity, b.api(t, http.MethodPost, "/v1/repos/life/releases/stable/rollback",
		map[string]int64{"generation": 9}, nil))

	// Key rotation: register the new key, resign with both keys; a client
	// trusting only the new key accepts the repository, Packages unchanged.
	_, err = c.AddKey(ctx, "life", newPub)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, b.api(t, http.MethodPost, "/v1/repos/life/releases/stable/resign", nil, &ref))
	job = follow(ctx, t, c, ref.JobID, oldKey, newKey)
	require.Equal(t, int64(5), job.Generation)
	require.Equal(t, gen2, packagesNow())
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/life", "stable", "main", string(newPub))
	apt.run("update")
	apt.run("install", "-y", "--download-only", "beta")

	// The old key can go now; the last one cannot.
	require.Equal(t, http.StatusNoContent, b.api(t, http.MethodDelete, "/v1/repos/life/keys/"+oldKey.Fingerprint(), nil, nil))
	require.Equal(t, http.StatusConflict, b.api(t, http.MethodDelete, "/v1/repos/life/keys/"+newKey.Fingerprint(), nil, nil))

	var hist struct {
		Generations []struct {
			Generation int64    `json:"generation"`
			Adds       int      `json:"adds"`
			Removes    int      `json:"removes"`
			Signers    []string `json:"signers"`
		} `json:"generations"`
	}
	require.Equal(t, http.StatusOK, b.api(t, http.MethodGet, "/v1/repos/life/releases/stable/history", nil, &hist))
	require.Len(t, hist.Generations, 5)
	require.Equal(t, int64(5), hist.Generations[0].Generation)
	require.ElementsMatch(t, []string{oldKey.Fingerprint(), newKey.Fingerprint()}, hist.Generations[0].Signers)
	require.Equal(t, 1, hist.Generations[1].Adds, "the rollback re-adds alpha")
	require.Equal(t, 1, hist.Generations[1].Removes, "and removes gamma")

	var pkgs struct {
		Packages []struct{ Name string } `json:"packages"`
	}
	require.Equal(t, http.StatusOK, b.api(t, http.MethodGet, "/v1/repos/life/releases/stable/packages", nil, &pkgs))
	var names []string
	for _, p := range pkgs.Packages {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"alpha", "beta"}, names)
}
