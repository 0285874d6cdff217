package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aptq/aptq/client"
)

const (
	// pollWait is how long one long poll of a job may wait server-side.
	pollWait = 30 * time.Second
	// minPollInterval spaces polls that the server answered at once with
	// nothing new (a server that does not hold the poll, or one that keeps
	// announcing a round this CLI already signed), so they cannot spin.
	minPollInterval = time.Second
)

// outcome is what every command that publishes prints with --json.
type outcome struct {
	JobID      *int64 `json:"job_id"`
	ChangeID   *int64 `json:"change_id"`
	State      string `json:"state"`
	Generation *int64 `json:"generation"`
	URL        string `json:"url"`
	// SignedBy are the fingerprints the server accepted from this CLI's
	// signature; empty when another client signed the round first.
	SignedBy []string         `json:"signed_by"`
	Error    *client.JobError `json:"error"`
}

const publishLong = `

The command waits until the change is published (exit 0), fails (exit 1) or
--timeout (default 10m) runs out (exit 3; the change is then cancelled unless
already committed). The round may hold other clients' changes too; whichever
client signs first publishes them all. With --json, one object is printed at
the end, also on failure:
  {"job_id":…,"change_id":…,"state":…,"generation":…,"url":…,
   "signed_by":[…],"error":{"code":…,"message":…}}
` + verifyHelp + "\n" + signingHelp

// errNoChange is what a submitFunc returns when the server found nothing
// to change and so submitted nothing.
var errNoChange = errors.New("nothing to change")

// submitFunc submits one change (uploading what it needs first) and
// returns its job.
type submitFunc func(ctx context.Context, c *client.Client) (client.JobRef, error)

// publish runs one change to its end: it loads the signing keys, lets submit
// make the change, and follows its job, signing rounds, until it is
// published or fails. pkg add/remove and release resign/rollback share it.
func (a *app) publish(ctx context.Context, s signFlags, repo string, submit submitFunc) error {
	var out outcome
	job, err := a.runChange(ctx, s, repo, submit, &out)
	a.ui.ClearStatus()
	if errors.Is(err, errNoChange) {
		// Nothing to change (a copy of what is there, an update to what the
		// release is already): nothing to sign.
		out.State, out.SignedBy = "unchanged", []string{}
		if a.json {
			return a.printJSON(out)
		}
		a.printf("nothing to change\n")
		return nil
	}
	if err != nil && out.JobID != nil && !job.Done() {
		// Giving up (timeout, interrupt, a refused signature): withdraw the
		// change unless it is already committed, so that its round does not
		// hold the release until the signature timeout. A failure, unlike a
		// timeout or an interrupt, stays on the job as its reason.
		var reason client.JobError
		if ctx.Err() == nil {
			e := a.describe(ctx, err)
			reason = client.JobError{Code: e.code, Message: e.msg}
		}
		job = a.cancel(*out.JobID, job, reason)
	}
	if err != nil && ctx.Err() != nil && context.Cause(ctx) != errTimedOut {
		err = &cliError{code: "interrupted", exit: exitFailed, msg: fmt.Sprintf("%v%s", err, mayStillPublish(out.JobID, stateOf(job)))}
	}
	if job.Generation != 0 {
		out.Generation = &job.Generation
	}
	out.State, out.URL = job.State, job.URL
	if out.SignedBy == nil {
		out.SignedBy = []string{}
	}
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
// gives up on, for reason (zero: none given), and returns the job's state as
// the server then tells it.
func (a *app) cancel(id int64, last client.Job, reason client.JobError) client.Job {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reason.Message = reasonText(reason.Message)
	job, err := a.client().CancelJobBecause(ctx, id, reason)
	if err != nil {
		a.progress("could not cancel job %d: %v", id, err)
		return last
	}
	a.progress("job %d: %s", id, job.State)
	return job
}

// reasonText fits a failure message to what the server accepts as a cancel
// reason: one line of at most 1000 bytes (the whole message is on stderr).
func reasonText(msg string) string {
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, msg)
	for len(msg) > 1000 {
		_, size := utf8.DecodeLastRuneInString(msg)
		msg = msg[:len(msg)-size]
	}
	return msg
}

func mayStillPublish(jobID *int64, state string) string {
	switch {
	case jobID == nil:
		return "; no change was submitted"
	case state == client.JobCancelled:
		return fmt.Sprintf("; job %d was cancelled: its change will not be published", *jobID)
	case state == client.JobCommitted || state == client.JobPublished:
		return fmt.Sprintf("; job %d is %s and will be published", *jobID, state)
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
func (a *app) runChange(ctx context.Context, s signFlags, repo string, submit submitFunc, out *outcome) (client.Job, error) {
	var job client.Job
	c := a.client()
	sess, err := a.newSigning(ctx, c, s, repo)
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

	ref, err := submit(ctx, c)
	if err != nil {
		return job, timedOut(err)
	}
	out.JobID, out.ChangeID = &ref.JobID, &ref.ChangeID
	a.progress("change %d accepted: job %d", ref.ChangeID, ref.JobID)
	job, err = a.follow(ctx, c, ref, sess)
	out.SignedBy = sess.acceptedSigners()
	return job, timedOut(err)
}

// follow long-polls a job until it ends, signing every round of it that
// awaits a signature, and returns the last state seen. The job's progress
// is the live status: queued → round cut, awaiting signature → signed →
// committed → published.
func (a *app) follow(ctx context.Context, c *client.Client, ref client.JobRef, sess *signing) (client.Job, error) {
	id := ref.JobID
	var job client.Job
	for {
		start := time.Now()
		next, err := c.GetJob(ctx, id, pollWait, job.State)
		if err != nil {
			return job, err
		}
		changed := next.State != job.State
		job = next
		a.ui.Status(fmt.Sprintf("job %d: %s", id, describeJob(job)))
		switch job.State {
		case client.JobPublished:
			return job, nil
		case client.JobFailed, client.JobCancelled:
			return job, jobFailure(job)
		}
		if r := job.Round; r.AwaitsSignature() && sess.claim(r) {
			step := "signing"
			if sess.checker != nil {
				step = "checking, then signing"
			}
			a.ui.Status(fmt.Sprintf("job %d: round %d (generation %d): %s with %s", id, r.ID, r.Generation, step,
				strings.Join(shortFingerprints(sess.signer.Fingerprints()), ", ")))
			stop := keepFollowing(ctx, c, id, job.State)
			err := a.signRound(ctx, c, r, sess, ref.ChangeID)
			stop()
			if err != nil {
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

// checkKeyRegistered fails, before anything is uploaded or submitted, when
// none of the keys this CLI signs with is registered, unrevoked, on the
// repository: the server would refuse the round's signature.
func checkKeyRegistered(ctx context.Context, c *client.Client, repo string, signer releaseSigner) error {
	keys, err := c.ListKeys(ctx, repo)
	if err != nil {
		return err
	}
	revoked := map[string]bool{} // registered fingerprint → revoked
	for _, k := range keys {
		revoked[strings.ToUpper(k.Fingerprint)] = k.Revoked
	}
	var revokedOnly []string
	for _, f := range signer.Fingerprints() {
		r, ok := revoked[strings.ToUpper(f)]
		switch {
		case ok && !r:
			return nil
		case ok:
			revokedOnly = append(revokedOnly, f)
		}
	}
	if len(revokedOnly) > 0 {
		return failf("revoked_key", "the registered copy of %s on repository %s carries its revocation: the server refuses "+
			"its signatures; sign with another registered key; nothing was uploaded", strings.Join(revokedOnly, ", "), repo)
	}
	return failf("unknown_key", "none of the keys this CLI signs with (%s) is registered on repository %s: "+
		"register the public key first (aptq key add --repo %s KEY.pub.asc); nothing was uploaded",
		strings.Join(signer.Fingerprints(), ", "), repo, repo)
}

// keepFollowing long-polls the job in the background until stop is called.
// The server counts a change's client present only while it polls its job
// (and for a short grace after); checking and signing a round on a loaded
// runner, or with a smartcard, can outlast that grace, and the change would
// then fail client_gone while its client is busy signing it.
func keepFollowing(ctx context.Context, c *client.Client, id int64, state string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			start := time.Now()
			j, err := c.GetJob(ctx, id, pollWait, state)
			if err == nil && j.State != state {
				state = j.State
				continue
			}
			// Unchanged or failed: at most one poll a second, as follow does.
			t := time.NewTimer(max(minPollInterval-time.Since(start), 0))
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// describeJob says where a job is, in the words of the live status.
func describeJob(j client.Job) string {
	switch j.State {
	case client.JobAwaitingSignature:
		if r := j.Round; r != nil {
			until := ""
			if !r.SignatureDeadline.IsZero() {
				until = " until " + r.SignatureDeadline.Local().Format("15:04:05")
			}
			return fmt.Sprintf("round %d cut (generation %d), awaiting a signature%s", r.ID, r.Generation, until)
		}
		return fmt.Sprintf("awaiting signature (generation %d)", j.Generation)
	case client.JobSigned:
		if r := j.Round; r != nil && r.SignedBy != nil {
			return fmt.Sprintf("round %d signed by token %s, committing generation %d", r.ID, r.SignedBy.Name, j.Generation)
		}
		return fmt.Sprintf("signed, committing generation %d", j.Generation)
	case client.JobCommitted:
		return fmt.Sprintf("committed generation %d, uploading", j.Generation)
	case client.JobPublished:
		return fmt.Sprintf("published generation %d", j.Generation)
	}
	if j.Generation != 0 {
		return fmt.Sprintf("%s (generation %d)", j.State, j.Generation)
	}
	return j.State
}

// shortFingerprints keeps the last 16 hex digits (the long key ID) of each,
// enough to tell keys apart in a status line.
func shortFingerprints(fprs []string) []string {
	out := make([]string, len(fprs))
	for i, f := range fprs {
		out[i] = f[max(0, len(f)-16):]
	}
	return out
}

func jobFailure(j client.Job) error {
	code, msg := j.State, "no reason given"
	if j.Error != nil {
		code, msg = j.Error.Code, j.Error.Message
	}
	return failf(code, "job %d %s: %s", j.JobID, j.State, msg)
}

// signRound checks a round (unless --no-verify) that holds the change
// changeID, signs its Release and posts the signatures. Losing the race to
// another signer, or to a newer round, is no error: the job goes on.
func (a *app) signRound(ctx context.Context, c *client.Client, r *client.Round, sess *signing, changeID int64) error {
	if err := sess.wait(ctx); err != nil {
		return err
	}
	if sess.checker != nil {
		err := a.checkRound(ctx, c, sess, r, changeID)
		if errors.Is(err, errSignedMeanwhile) {
			a.progress("round %d was signed by another client", r.ID)
			return nil
		}
		if err != nil {
			return err
		}
	}
	signer := sess.signer
	inRelease, releaseGPG, err := signer.Sign(ctx, []byte(r.Release))
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return failf("sign", "sign round %d: %v", r.ID, err)
	}
	res, err := c.SubmitSignature(ctx, r.ID, client.SignatureRequest{
		Generation: r.Generation,
		InRelease:  string(inRelease),
		ReleaseGPG: string(releaseGPG),
	})
	switch client.ErrorCode(err) {
	case "":
		sess.accepted(res.Signers)
		a.progress("signed round %d (generation %d) with %s; accepted: %s", res.RoundID, res.Generation,
			strings.Join(signer.Fingerprints(), ", "), strings.Join(res.Signers, ", "))
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
