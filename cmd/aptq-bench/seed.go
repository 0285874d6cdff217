package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

// maxAddsPerChange is the most adds the API takes in one change.
const maxAddsPerChange = 1000

// seed publishes debs into a release quickly, through the Go client rather
// than one CLI per package: uploads 32 at a time (the server's S3 round
// trips per upload, not its CPU, bound the rate), then changes of up to
// 1000 adds submitted together (the server coalesces them into a few
// rounds), each followed and signed as the CLI does.
func (s *system) seed(ctx context.Context, repo, release, keyFile string, debs []debFile) error {
	return s.seedComponents(ctx, repo, release, keyFile, debs, func(int) string { return "main" })
}

// seedComponents is seed with the i-th package going into component(i).
func (s *system) seedComponents(ctx context.Context, repo, release, keyFile string, debs []debFile, component func(i int) string) error {
	armored, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	signer, err := sign.ParsePrivateKey(armored, nil)
	if err != nil {
		return err
	}
	c := client.New(s.URL, s.Token)

	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, d := range debs {
		g.Go(func() error {
			f, err := os.Open(d.Path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := c.UploadPackage(gctx, d.SHA256, f, d.Size); err != nil {
				return fmt.Errorf("upload %s: %w", d.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	s.b.logf("%s: uploaded %d packages in %v", s.name, len(debs), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	g, gctx = errgroup.WithContext(ctx)
	for lo := 0; lo < len(debs); lo += maxAddsPerChange {
		var change client.ChangeRequest
		for i, d := range debs[lo:min(lo+maxAddsPerChange, len(debs))] {
			change.Adds = append(change.Adds, client.Add{SHA256: d.SHA256, Component: component(lo + i)})
		}
		g.Go(func() error {
			ref, err := c.SubmitChange(gctx, repo, release, change)
			if err != nil {
				return err
			}
			_, err = followAndSign(gctx, c, ref.JobID, signer)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	s.b.logf("%s: published them in %v", s.name, time.Since(start).Round(time.Millisecond))
	return nil
}

// followAndSign long-polls a job to its end, signing each round of it that
// awaits a signature, like `aptq pkg add` does. Losing the signing race to
// another client is no error.
func followAndSign(ctx context.Context, c *client.Client, jobID int64, signer *sign.Signer) (client.Job, error) {
	var job client.Job
	signed := map[int64]bool{}
	for {
		next, err := c.GetJob(ctx, jobID, 30*time.Second, job.State)
		if err != nil {
			return job, err
		}
		job = next
		switch job.State {
		case client.JobPublished:
			return job, nil
		case client.JobFailed, client.JobCancelled:
			return job, fmt.Errorf("job %d %s: %+v", jobID, job.State, job.Error)
		}
		r := job.Round
		if !r.AwaitsSignature() || signed[r.ID] {
			continue
		}
		signed[r.ID] = true
		inRelease, releaseGPG, err := sign.Sign([]byte(r.Release), signer)
		if err != nil {
			return job, err
		}
		_, err = c.SubmitSignature(ctx, r.ID, client.SignatureRequest{Generation: r.Generation,
			InRelease: string(inRelease), ReleaseGPG: string(releaseGPG)})
		switch client.ErrorCode(err) {
		case "", client.CodeAlreadySigned, client.CodeStaleGeneration, client.CodeRoundFailed:
		default:
			return job, err
		}
	}
}

// runConcurrently runs fn(i) for i in [0, n), at most limit at a time
// (limit ≤ 0: all at once), and returns each call's duration.
func runConcurrently(n, limit int, fn func(i int)) []time.Duration {
	if limit <= 0 {
		limit = n
	}
	durations := make([]time.Duration, n)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			start := time.Now()
			fn(i)
			durations[i] = time.Since(start)
		}()
	}
	wg.Wait()
	return durations
}
