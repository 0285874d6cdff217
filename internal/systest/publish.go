package systest

import (
	"context"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

// MaxAddsPerChange is the most adds the API takes in one change a client
// submits.
const MaxAddsPerChange = 1000

// Deb is a package to upload: its content's SHA-256 and size, and how to
// read it (an upload is retried only if what Open returns is an io.Seeker,
// as an *os.File is).
type Deb struct {
	SHA256 string
	Size   int64
	Open   func() (io.ReadCloser, error)
}

// UploadAll uploads debs through the Go client, limit at a time: seeding
// thousands of packages one CLI per package would take most of a test's
// time.
func UploadAll(ctx context.Context, c *client.Client, debs []Deb, limit int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, d := range debs {
		g.Go(func() error {
			body, err := d.Open()
			if err != nil {
				return err
			}
			defer body.Close()
			if _, err := c.UploadPackage(gctx, d.SHA256, body, d.Size); err != nil {
				return fmt.Errorf("upload %s: %w", d.SHA256, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// PublishAdds submits adds (packages uploaded already) as changes of at
// most MaxAddsPerChange, all at once (the server coalesces them into a few
// rounds), and follows and signs each as the CLI does.
func PublishAdds(ctx context.Context, c *client.Client, signer *sign.Signer, repo, release string, adds []client.Add) error {
	g, gctx := errgroup.WithContext(ctx)
	for lo := 0; lo < len(adds); lo += MaxAddsPerChange {
		change := client.ChangeRequest{Adds: adds[lo:min(lo+MaxAddsPerChange, len(adds))]}
		g.Go(func() error {
			ref, err := c.SubmitChange(gctx, repo, release, change)
			if err != nil {
				return err
			}
			_, err = FollowAndSign(gctx, c, ref.JobID, signer)
			return err
		})
	}
	return g.Wait()
}

// FollowAndSign long-polls a job to its end, signing each round of it that
// awaits a signature, like `aptq pkg add` does (without its check of the
// round). Losing the signing race to another client is no error.
func FollowAndSign(ctx context.Context, c *client.Client, jobID int64, signer *sign.Signer) (client.Job, error) {
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
