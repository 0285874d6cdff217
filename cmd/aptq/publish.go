package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

const (
	// pollWait is how long one long poll of a job may wait server-side.
	pollWait = 30 * time.Second
	// minPollInterval spaces polls that the server answered at once with
	// nothing new (a server that does not hold the poll, or one that keeps
	// announcing a round this CLI already signed), so they cannot spin.
	minPollInterval = time.Second
)

// outcome is what pkg add/remove print with --json.
type outcome struct {
	JobID      *int64           `json:"job_id"`
	State      string           `json:"state"`
	Generation *int64           `json:"generation"`
	URL        string           `json:"url"`
	Error      *client.JobError `json:"error"`
}

// publish runs one change to its end: it loads the signing key, checks the
// release, lets prepare build the change (uploading what it needs), submits
// it and follows its job, signing rounds, until it is published or fails.
func (a *app) publish(ctx context.Context, p publishFlags,
	prepare func(context.Context, *client.Client, client.Release) (client.ChangeRequest, error)) error {
	var out outcome
	job, err := a.runChange(ctx, p, prepare, &out)
	if err != nil && ctx.Err() != nil && out.JobID != nil {
		// Giving up: withdraw the change unless it is already committed.
		job = a.cancel(*out.JobID, job)
	}
	if err != nil && ctx.Err() != nil && context.Cause(ctx) != errTimedOut {
		err = &cliError{code: "interrupted", exit: exitFailed, msg: fmt.Sprintf("%v%s", err, mayStillPublish(out.JobID, stateOf(job)))}
	}
	if job.Generation != 0 {
		out.Generation = &job.Generation
	}
	out.State, out.URL = job.State, job.URL
	if err != nil {
		e := a.describe(ctx, err)
		out.Error = &client.JobError{Code: e.code, Message: e.msg}
		err = e
	}
	if a.json {
		if jerr := a.printJSON(out); jerr != nil && err == nil {
			err = jerr
		}
	} else if err == nil {
		a.printf("published generation %d: %s\n", job.Generation, job.URL)
	}
	return err
}

// cancel asks the server, best effort and briefly, to cancel a job the CLI
// gives up on, and returns the job's state as the server then tells it.
func (a *app) cancel(id int64, last client.Job) client.Job {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	job, err := a.client().CancelJob(ctx, id)
	if err != nil {
		a.progress("could not cancel job %d: %v", id, err)
		return last
	}
	a.progress("job %d: %s", id, job.State)
	return job
}

func mayStillPublish(jobID *int64, state string) string {
	if jobID == nil {
		return "; no change was submitted"
	}
	return fmt.Sprintf("; job %d is %s and may still be published", *jobID, state)
}

// stateOf names the last state seen, which is none when the deadline came
// before the first answer about the job.
func stateOf(j client.Job) string {
	if j.State == "" {
		return "in an unknown state"
	}
	return j.State
}

// runChange does the work of publish and returns the last state of the job.
func (a *app) runChange(ctx context.Context, p publishFlags,
	prepare func(context.Context, *client.Client, client.Release) (client.ChangeRequest, error), out *outcome) (client.Job, error) {
	var job client.Job
	signer, err := a.loadSigner(p.key)
	if err != nil {
		return job, err
	}
	// ctx carries the --timeout deadline (see action); when it ran out the
	// user needs the job and its state, not the request that was cut short.
	timedOut := func(err error) error {
		if context.Cause(ctx) != errTimedOut {
			return err
		}
		if out.JobID == nil {
			return &cliError{code: "timeout", exit: exitTimeout,
				msg: fmt.Sprintf("no change submitted after %s: %v", a.deadline, err)}
		}
		return &cliError{code: "timeout", exit: exitTimeout,
			msg: fmt.Sprintf("job %d still %s after %s; cancelled unless already committed", *out.JobID, stateOf(job), a.deadline)}
	}

	c := a.client()
	rel, err := c.GetRelease(ctx, p.repo, p.release)
	if err != nil {
		return job, timedOut(err)
	}
	// Checked here too, so that a typo fails before the uploads, not after.
	if !slices.Contains(rel.Components, p.component) {
		return job, failf("invalid", "release %s has no component %q (it has %s)",
			rel.Name, p.component, strings.Join(rel.Components, ", "))
	}
	change, err := prepare(ctx, c, rel)
	if err != nil {
		return job, timedOut(err)
	}
	ref, err := c.SubmitChange(ctx, p.repo, p.release, change)
	if err != nil {
		return job, timedOut(err)
	}
	out.JobID = &ref.JobID
	a.progress("change %d accepted: job %d", ref.ChangeID, ref.JobID)
	job, err = a.follow(ctx, c, ref.JobID, signer)
	return job, timedOut(err)
}

// follow long-polls a job until it ends, signing every round of it that
// awaits a signature, and returns the last state seen.
func (a *app) follow(ctx context.Context, c *client.Client, id int64, signer *sign.Signer) (client.Job, error) {
	type roundKey struct{ id, generation int64 }
	var job client.Job
	tried := map[roundKey]bool{} // rounds signed (or found signed) already
	for {
		start := time.Now()
		next, err := c.GetJob(ctx, id, pollWait, job.State)
		if err != nil {
			return job, err
		}
		changed := next.State != job.State
		job = next
		if changed {
			a.progress("job %d: %s", id, describeJob(job))
		}
		switch job.State {
		case client.JobPublished:
			return job, nil
		case client.JobFailed, client.JobCancelled:
			return job, jobFailure(job)
		}
		if r := job.Round; r.AwaitsSignature() && !tried[roundKey{r.ID, r.Generation}] {
			tried[roundKey{r.ID, r.Generation}] = true
			if err := a.signRound(ctx, c, r, signer); err != nil {
				return job, err
			}
			continue
		}
		if wait := minPollInterval - time.Since(start); !changed && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return job, ctx.Err()
			case <-t.C:
			}
		}
	}
}

func describeJob(j client.Job) string {
	if j.Generation != 0 {
		return fmt.Sprintf("%s (generation %d)", j.State, j.Generation)
	}
	return j.State
}

func jobFailure(j client.Job) error {
	code, msg := j.State, "no reason given"
	if j.Error != nil {
		code, msg = j.Error.Code, j.Error.Message
	}
	return failf(code, "job %d %s: %s", j.JobID, j.State, msg)
}

// signRound signs a round's Release and posts the signatures. Losing the race
// to another signer, or to a newer round, is no error: the job goes on.
func (a *app) signRound(ctx context.Context, c *client.Client, r *client.Round, signer *sign.Signer) error {
	inRelease, releaseGPG, err := sign.Sign([]byte(r.Release), signer)
	if err != nil {
		return failf("sign", "sign round %d: %v", r.ID, err)
	}
	res, err := c.SubmitSignature(ctx, r.ID, client.SignatureRequest{
		Generation: r.Generation,
		InRelease:  string(inRelease),
		ReleaseGPG: string(releaseGPG),
	})
	switch client.ErrorCode(err) {
	case "":
		a.progress("signed round %d (generation %d) with %s", res.RoundID, res.Generation, signer.Fingerprint())
	case client.CodeAlreadySigned:
		a.progress("round %d was signed by another client", r.ID)
	case client.CodeStaleGeneration:
		a.progress("round %d was superseded by a newer round", r.ID)
	case client.CodeRoundFailed:
		a.progress("round %d failed before it was signed", r.ID)
	default:
		return fmt.Errorf("sign round %d: %w", r.ID, err)
	}
	return nil
}

// loadSigner reads the private signing key from --key, else APTQ_SIGNING_KEY
// (a path, or the armored key itself). It is loaded before anything is
// uploaded, so a missing key or a wrong passphrase fails at once.
func (a *app) loadSigner(keyFlag string) (*sign.Signer, error) {
	var armored []byte
	source := "--key " + keyFlag
	switch env := a.getenv("APTQ_SIGNING_KEY"); {
	case keyFlag != "":
		data, err := readSmallFile(keyFlag)
		if err != nil {
			return nil, err
		}
		armored = data
	case strings.HasPrefix(strings.TrimSpace(env), "-----BEGIN"):
		armored, source = []byte(env), "APTQ_SIGNING_KEY"
	case env != "":
		data, err := readSmallFile(env)
		if err != nil {
			return nil, fmt.Errorf("APTQ_SIGNING_KEY: %w", err)
		}
		armored, source = data, "APTQ_SIGNING_KEY="+env
	default:
		return nil, usageErrorf("no signing key: pass --key FILE.asc or set APTQ_SIGNING_KEY " +
			"(a path or the armored private key)")
	}
	signer, err := sign.ParsePrivateKey(armored, []byte(a.getenv("APTQ_SIGNING_KEY_PASSPHRASE")))
	if err != nil {
		return nil, failf("signing_key", "%s: %v", source, err)
	}
	return signer, nil
}
