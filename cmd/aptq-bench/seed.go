package main

import (
	"context"
	"io"
	"os"
	"sync"
	"time"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/sign"
)

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
	files := make([]systest.Deb, len(debs))
	for i, d := range debs {
		files[i] = systest.Deb{SHA256: d.SHA256, Size: d.Size, Open: func() (io.ReadCloser, error) { return os.Open(d.Path) }}
	}
	if err := systest.UploadAll(ctx, c, files, 32); err != nil {
		return err
	}
	s.b.logf("%s: uploaded %d packages in %v", s.name, len(debs), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	adds := make([]client.Add, len(debs))
	for i, d := range debs {
		adds[i] = client.Add{SHA256: d.SHA256, Component: component(i)}
	}
	if err := systest.PublishAdds(ctx, c, signer, repo, release, adds); err != nil {
		return err
	}
	s.lastSeedPublish = time.Since(start)
	s.b.logf("%s: published them in %v", s.name, s.lastSeedPublish.Round(time.Millisecond))
	return nil
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
