package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

// TestSignatureRejections: every bad signature is refused with its code and
// leaves the round awaiting a signature and the release unchanged; the
// first good one wins and a second gets already_signed (G2, G7).
func TestSignatureRejections(t *testing.T) {
	t.Parallel()
	b := setup(t)
	keyFile := b.repoWithKey("sig", "stable")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := client.New(b.URL, b.Token)

	armored, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	good, err := sign.ParsePrivateKey(armored, nil)
	require.NoError(t, err)
	otherPriv, _, err := sign.GenerateKey("intruder", "intruder@example.com")
	require.NoError(t, err)
	intruder, err := sign.ParsePrivateKey(otherPriv, nil)
	require.NoError(t, err)

	deb := debtest.Build(t, debtest.Options{Package: "sig", Version: "1.0", Architecture: "amd64"})
	sum := sha256.Sum256(deb)
	hexSum := hex.EncodeToString(sum[:])
	_, err = c.UploadPackage(ctx, hexSum, bytes.NewReader(deb), int64(len(deb)))
	require.NoError(t, err)
	ref, err := c.SubmitChange(ctx, "sig", "stable", client.ChangeRequest{Adds: []client.Add{{SHA256: hexSum, Component: "main"}}})
	require.NoError(t, err)

	job := waitForState(ctx, t, c, ref.JobID, client.JobAwaitingSignature)
	round := job.Round
	release := []byte(round.Release)

	signWith := func(data []byte, s *sign.Signer) client.SignatureRequest {
		inRelease, releaseGPG, err := sign.Sign(data, s)
		require.NoError(t, err)
		return client.SignatureRequest{Generation: round.Generation, InRelease: string(inRelease), ReleaseGPG: string(releaseGPG)}
	}
	valid := signWith(release, good)
	tampered := signWith(append(bytes.Clone(release), []byte("Extra: field\n")...), good)
	stale := valid
	stale.Generation = round.Generation + 1
	mixed := valid
	mixed.ReleaseGPG = signWith(release, intruder).ReleaseGPG

	for _, tc := range []struct {
		name   string
		req    client.SignatureRequest
		status int
		code   string
	}{
		{"unregistered key", signWith(release, intruder), 422, "unknown_key"},
		{"signed bytes differ from Release", tampered, 422, "content_mismatch"},
		{"garbage", client.SignatureRequest{Generation: round.Generation, InRelease: "hello", ReleaseGPG: "world"}, 422, "bad_signature"},
		{"detached signature by another key", mixed, 422, "unknown_key"},
		{"other generation", stale, 409, "stale_generation"},
	} {
		_, err := c.SubmitSignature(ctx, round.ID, tc.req)
		var apiErr *client.APIError
		require.True(t, errors.As(err, &apiErr), "%s: %v", tc.name, err)
		require.Equal(t, tc.status, apiErr.Status, tc.name)
		require.Equal(t, tc.code, apiErr.Code, tc.name)

		now, err := c.GetJob(ctx, ref.JobID, 0, "")
		require.NoError(t, err)
		require.Equal(t, client.JobAwaitingSignature, now.State, "%s changed the job", tc.name)
		rel, err := c.GetRelease(ctx, "sig", "stable")
		require.NoError(t, err)
		require.Zero(t, rel.Generation, "%s changed the release", tc.name)
	}

	res, err := c.SubmitSignature(ctx, round.ID, valid)
	require.NoError(t, err)
	require.Equal(t, []string{good.Fingerprint()}, res.Signers)
	_, err = c.SubmitSignature(ctx, round.ID, valid)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 409, apiErr.Status)
	require.Equal(t, "already_signed", apiErr.Code)

	done := waitForState(ctx, t, c, ref.JobID, client.JobPublished)
	require.Equal(t, round.Generation, done.Generation)
}

// waitForState long-polls a job until it reaches state (failing on a
// final state that is not it).
func waitForState(ctx context.Context, t *testing.T, c *client.Client, jobID int64, state string) client.Job {
	t.Helper()
	last := ""
	for {
		job, err := c.GetJob(ctx, jobID, 30*time.Second, last)
		require.NoError(t, err)
		if job.State == state {
			return job
		}
		require.False(t, job.Done(), "job %d ended %s, waiting for %s: %+v", jobID, job.State, state, job.Error)
		last = job.State
	}
}
