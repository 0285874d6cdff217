package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/aptq/aptq/client"
)

// changeBatches are the changes a bulk publish submits: the files still
// going (not failed, not a repeat of another), in the order given, at most
// limit to a change.
func changeBatches(files []*bulkFile, limit int) [][]*bulkFile {
	var ready []*bulkFile
	for _, f := range files {
		if f.stage == "" && f.dup == nil {
			ready = append(ready, f)
		}
	}
	return slices.Collect(slices.Chunk(ready, limit))
}

// errGaveUp is the cause that stops every job's follower once one of them
// gives up (its round refused, a signature failed, the server unreachable).
var errGaveUp = errors.New("another job of this command was given up")

// submitAndFollow submits the changes one after the other and follows each
// job from the moment it is accepted: the server counts a change's client
// present only while its job is polled. Rounds are signed only once every
// change is submitted, so that the changes submitted meanwhile coalesce
// into as few rounds as possible (one or two: the worker may cut a round
// for the first changes before the last arrive).
func (r *bulkRun) submitAndFollow(ctx context.Context) {
	batches := changeBatches(r.files, maxChangeAdds)
	fctx, giveUp := context.WithCancelCause(ctx)
	defer giveUp(nil)
	r.sess.hold()
	var wg sync.WaitGroup
	for i, batch := range batches {
		if fctx.Err() != nil {
			for _, f := range batch {
				f.fail(stageSubmit, context.Cause(fctx))
			}
			continue
		}
		batch, ref, err := r.submit(fctx, batch)
		if err != nil {
			if fctx.Err() == nil {
				r.a.progress("change %d of %d (%d files) refused: %v", i+1, len(batches), len(batch), r.a.describe(fctx, err))
			}
			continue
		}
		if len(batch) == 0 {
			continue
		}
		sums := make([]string, len(batch))
		for k, f := range batch {
			sums[k] = f.SHA256
			if f.debFiles != nil { // nil: read from an index, not from the .deb (import)
				r.sess.addOwnFiles(f.SHA256, f.debFiles)
			}
		}
		if len(batches) == 1 {
			r.a.progress("change %d accepted: job %d", ref.ChangeID, ref.JobID)
		} else {
			r.a.progress("change %d accepted: job %d (%d of %d, %d files)", ref.ChangeID, ref.JobID, i+1, len(batches), len(batch))
		}
		r.sess.addOwn(ref.ChangeID, sums)
		j := &bulkJob{ref: ref, files: batch}
		for _, f := range batch {
			f.job = j
		}
		r.jobs = append(r.jobs, j)
		wg.Go(func() {
			j.job, j.err = r.a.follow(fctx, r.c, ref, r.sess)
			if j.err != nil && !j.job.Done() && fctx.Err() == nil {
				giveUp(errGaveUp)
			}
		})
	}
	r.sess.release()
	wg.Wait()
	r.cancelUnfinished(ctx)
	for _, j := range r.jobs {
		if j.job.State == client.JobPublished {
			continue
		}
		err := j.err
		if err == nil {
			err = fmt.Errorf("job %d is %s", j.ref.JobID, stateOf(j.job))
		}
		for _, f := range j.files {
			f.fail(stageJob, err)
		}
	}
}

// submit submits a change adding batch. When the server refuses it
// because of one package it names (a package version already in the
// repository with other content), that file fails and the change is
// submitted again without it, so one bad file does not hold back up to
// maxChangeAdds good ones. It returns the files the accepted change adds
// (none when every one was refused); a refusal of the whole change fails
// them all and is returned.
func (r *bulkRun) submit(ctx context.Context, batch []*bulkFile) ([]*bulkFile, client.JobRef, error) {
	batch = slices.Clone(batch)
	for len(batch) > 0 {
		req := client.ChangeRequest{Adds: make([]client.Add, len(batch)), ChangesFile: r.t.Changes.sha256()}
		for k, f := range batch {
			req.Adds[k] = client.Add{SHA256: f.SHA256, Component: f.Component}
		}
		ref, err := r.c.SubmitChange(ctx, r.t.Repo, r.t.Release, req)
		if err == nil {
			return batch, ref, nil
		}
		if k := culprit(err, batch); k >= 0 && ctx.Err() == nil {
			batch[k].fail(stageSubmit, err)
			r.a.progress("%s: refused: %v; submitting the change without it", batch[k].Label, r.a.describe(ctx, err))
			batch = slices.Delete(batch, k, k+1)
			continue
		}
		for _, f := range batch {
			f.fail(stageSubmit, err)
		}
		return batch, client.JobRef{}, err
	}
	return nil, client.JobRef{}, nil
}

// culprit is the index in batch of the one package a refused change names
// as the reason, or -1.
func culprit(err error, batch []*bulkFile) int {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != codePackageConflict {
		return -1
	}
	sum, _ := apiErr.Details["sha256"].(string)
	return slices.IndexFunc(batch, func(f *bulkFile) bool { return f.SHA256 == sum })
}

// codePackageConflict is the API's code for a package version (or pool
// file) that the repository holds with other content.
const codePackageConflict = "package_conflict"

// cancelUnfinished withdraws the jobs the command gives up on, unless
// committed, so that their round does not hold the release until the
// signature timeout. A failure, unlike a timeout or an interrupt, stays on
// each job as its reason.
func (r *bulkRun) cancelUnfinished(ctx context.Context) {
	var reason client.JobError
	for _, j := range r.jobs {
		if j.err == nil || j.job.Done() {
			continue
		}
		if ctx.Err() == nil && !errors.Is(j.err, context.Canceled) && reason.Code == "" {
			e := r.a.describe(ctx, j.err)
			reason = client.JobError{Code: e.code, Message: e.msg}
		}
	}
	for _, j := range r.jobs {
		if j.err != nil && !j.job.Done() {
			j.givenUpIn = stateOf(j.job)
			j.job = r.a.cancel(j.ref.JobID, j.job, reason)
		}
	}
}
