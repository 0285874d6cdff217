package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aptq/aptq/client"
)

// bulkOutcome is what a bulk publish prints with --json: the fields every
// publishing command prints (for the job that failed first, else the last
// one), then every change and every file with its fate.
type bulkOutcome struct {
	outcome
	PublishedFiles   int                 `json:"published_files"`
	UnpublishedFiles int                 `json:"unpublished_files"`
	Changes          []bulkChangeOutcome `json:"changes"`
	Files            []bulkFileOutcome   `json:"files"`
}

type bulkChangeOutcome struct {
	ChangeID   int64            `json:"change_id"`
	JobID      int64            `json:"job_id"`
	State      string           `json:"state"`
	Generation *int64           `json:"generation"`
	Files      int              `json:"files"`
	Error      *client.JobError `json:"error"`
}

type bulkFileOutcome struct {
	File         string `json:"file"`
	SHA256       string `json:"sha256"`
	Package      string `json:"package"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Component    string `json:"component"`
	Published    bool   `json:"published"`
	// Stage is where an unpublished file stopped: check, upload, submit or
	// job ("" when the command stopped before reaching it).
	Stage      string           `json:"stage,omitempty"`
	JobID      *int64           `json:"job_id"`
	Generation *int64           `json:"generation"`
	Error      *client.JobError `json:"error"`
}

// fate is the file whose outcome f shares: itself, or the file it repeats.
func (f *bulkFile) fate() *bulkFile {
	if f.dup != nil {
		return f.dup
	}
	return f
}

func (f *bulkFile) published() bool {
	g := f.fate()
	return g.stage == "" && g.job != nil && g.job.job.State == client.JobPublished
}

// report prints the outcome and returns the command's error: nil only when
// every file is published.
func (r *bulkRun) report(ctx context.Context) error {
	a := r.a
	a.ui.ClearStatus()
	var published, unpublished []*bulkFile
	for _, f := range r.files {
		if f.published() {
			published = append(published, f)
		} else {
			unpublished = append(unpublished, f)
		}
	}
	err := r.failure(ctx, unpublished, len(published))
	out := r.outcome(ctx, err, published, unpublished)
	if a.json {
		if jerr := a.printJSON(out); jerr != nil && err == nil {
			err = jerr
		}
		return err
	}
	switch {
	case err == nil:
		if len(r.files) > 1 {
			a.progress("%d files published by %d change(s)", len(r.files), len(r.jobs))
		}
		a.printf("published generation %d: %s\n", *out.Generation, out.URL)
	case len(published) > 0 || r.fatal == nil && len(r.files) > 1:
		r.printSummary(ctx, published, unpublished)
	}
	return err
}

// failure is the command's error, or nil when every file is published.
func (r *bulkRun) failure(ctx context.Context, unpublished []*bulkFile, published int) error {
	a := r.a
	if ctx.Err() != nil {
		return r.gaveUp(ctx, published)
	}
	if r.fatal != nil {
		return a.describe(ctx, r.fatal)
	}
	if len(unpublished) == 0 {
		return nil
	}
	first := unpublished[0].fate()
	e := a.describe(ctx, first.wrapped())
	if len(r.files) > 1 {
		e.msg += fmt.Sprintf("; published %d of %d files, %d not (listed above); run the same command again "+
			"to publish the rest: files the server has are not uploaded again", published, len(r.files), len(unpublished))
	}
	return e
}

// wrapped is the file's error as the user reads it: with its label, and
// where it stopped.
func (f *bulkFile) wrapped() error {
	if f.job != nil && f.stage == stageJob {
		return f.err // names its job
	}
	if f.err == nil {
		return fmt.Errorf("%s: not published", f.Label)
	}
	return fmt.Errorf("%s: %s: %w", f.Label, f.stage, f.err)
}

// gaveUp is the error of a command stopped by --timeout or an interrupt: it
// says what became of each job.
func (r *bulkRun) gaveUp(ctx context.Context, published int) error {
	a := r.a
	cause := r.fatal
	for _, j := range r.jobs {
		if cause == nil && j.err != nil {
			cause = j.err
		}
	}
	if cause == nil {
		cause = ctx.Err()
	}
	var states []string
	timedOut := context.Cause(ctx) == errTimedOut
	for _, j := range r.jobs {
		switch {
		case timedOut && j.givenUpIn != "":
			states = append(states, fmt.Sprintf("job %d still %s after %s; cancelled unless already committed",
				j.ref.JobID, j.givenUpIn, a.deadline))
		case !timedOut:
			id := j.ref.JobID
			states = append(states, strings.TrimPrefix(mayStillPublish(&id, stateOf(j.job)), "; "))
		}
	}
	summary := ""
	if len(r.files) > 1 {
		summary = fmt.Sprintf("; published %d of %d files", published, len(r.files))
	}
	switch {
	case timedOut && len(r.jobs) == 0:
		return &cliError{code: "timeout", exit: exitTimeout,
			msg: fmt.Sprintf("no change submitted after %s: %v%s", a.deadline, cause, summary)}
	case timedOut:
		return &cliError{code: "timeout", exit: exitTimeout, msg: strings.Join(states, "; ") + summary}
	case len(r.jobs) == 0:
		return &cliError{code: "interrupted", exit: exitFailed,
			msg: fmt.Sprintf("%v%s%s", cause, mayStillPublish(nil, ""), summary)}
	}
	return &cliError{code: "interrupted", exit: exitFailed,
		msg: fmt.Sprintf("%v; %s%s", cause, strings.Join(states, "; "), summary)}
}

func (r *bulkRun) outcome(ctx context.Context, err error, published, unpublished []*bulkFile) bulkOutcome {
	out := bulkOutcome{PublishedFiles: len(published), UnpublishedFiles: len(unpublished),
		Changes: []bulkChangeOutcome{}, Files: make([]bulkFileOutcome, 0, len(r.files))}
	var lead *bulkJob // the job the common fields describe
	for _, j := range r.jobs {
		c := bulkChangeOutcome{ChangeID: j.ref.ChangeID, JobID: j.ref.JobID, State: j.job.State, Files: len(j.files),
			Error: j.job.Error}
		if j.job.State == client.JobPublished {
			c.Generation = &j.job.Generation
			if out.Generation == nil || *out.Generation < j.job.Generation {
				out.Generation = &j.job.Generation
			}
		}
		if j.job.URL != "" {
			out.URL = j.job.URL
		}
		out.Changes = append(out.Changes, c)
		if lead == nil || lead.job.State == client.JobPublished {
			lead = j
		}
	}
	if lead != nil {
		out.JobID, out.ChangeID, out.State = &lead.ref.JobID, &lead.ref.ChangeID, lead.job.State
	}
	out.SignedBy = []string{}
	if r.sess != nil {
		out.SignedBy = r.sess.acceptedSigners()
	}
	if err != nil {
		e := r.a.describe(ctx, err)
		out.Error = &client.JobError{Code: e.code, Message: e.msg}
	}
	for _, f := range r.files {
		g := f.fate()
		fo := bulkFileOutcome{File: f.Label, SHA256: f.SHA256, Package: g.name, Version: g.version, Architecture: g.arch,
			Component: f.Component, Published: f.published()}
		if g.job != nil {
			fo.JobID = &g.job.ref.JobID
			if fo.Published {
				fo.Generation = &g.job.job.Generation
			}
		}
		if !fo.Published {
			fo.Stage = g.stage
			reason := g.err
			if reason == nil {
				reason = err
			}
			if reason != nil {
				e := r.a.describe(ctx, reason)
				fo.Error = &client.JobError{Code: e.code, Message: e.msg}
			}
		}
		out.Files = append(out.Files, fo)
	}
	return out
}

// printSummary lists, on stdout, which files are published and which are
// not, with why.
func (r *bulkRun) printSummary(ctx context.Context, published, unpublished []*bulkFile) {
	a := r.a
	if len(published) > 0 {
		a.printf("published (%d):\n", len(published))
		for _, f := range published {
			a.printf("  %s: %s in generation %d\n", f.Label, f.fate().pkg(), f.fate().job.job.Generation)
		}
	}
	a.printf("not published (%d):\n", len(unpublished))
	for _, f := range unpublished {
		g := f.fate()
		switch {
		case g.err == nil:
			a.printf("  %s: not reached\n", f.Label)
		default:
			a.printf("  %s: %s: %s\n", f.Label, g.stage, a.describe(ctx, g.err).Error())
		}
	}
}
