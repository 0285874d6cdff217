package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/client"
)

// maxChangeAdds is the most adds one change may hold: the server's limit
// (api.maxChangeItems). A bulk publish splits its files into changes of at
// most this many; they are submitted one after the other and coalesce into
// the release's next round.
const maxChangeAdds = 1000

// defaultParallel is how many uploads run at once unless --parallel says.
const defaultParallel = 4

// bulkItem is one package a bulk publish adds, wherever its bytes come
// from: a local file (pkg add) or a download (import).
type bulkItem struct {
	// Label names the item to the user: a path, a URL.
	Label string
	// Size is its length in bytes; -1 when unknown (then counted).
	Size int64
	// SHA256 is its content's SHA-256 in lowercase hex; "" when unknown
	// (then computed). A known one is checked against the content.
	SHA256    string
	Component string
	// Open returns its content from the start; it is called once to check
	// and hash the item, and again for each upload attempt.
	Open func() (io.ReadCloser, error)
	// SourceDir, for a .dsc, is the directory that holds the files it
	// lists ("" for a .deb).
	SourceDir string
	// Known, with SHA256 and Size, is the package an index that was checked
	// already vouches for (import): check then takes it as is instead of
	// downloading the item an extra time, and Open's reader must fail,
	// rather than end, on content that differs from SHA256 and Size.
	Known *apt.PackageKey
}

// bulkTarget is where a bulk publish goes and how.
type bulkTarget struct {
	Repo, Release string
	Sign          signFlags
	// Parallel bounds the uploads (and reads) running at once.
	Parallel int
	// Changes is the .changes the items come from (nil when none),
	// uploaded with them and recorded with each change.
	Changes *changesUpload
}

// Stages at which a file of a bulk publish can stop short of being published.
const (
	stageCheck  = "check"  // refused before anything was uploaded
	stageUpload = "upload" // its upload failed
	stageSubmit = "submit" // the change holding it was refused
	stageJob    = "job"    // its change's job failed or was given up
)

// bulkFile is an item and what became of it.
type bulkFile struct {
	bulkItem
	name, version, arch string   // from its control file
	onServer            bool     // the server had its content already
	debFiles            []string // of a .deb: its data.tar's file list
	dup                 *bulkFile
	files               []sourceFile // of a .dsc
	stanza              string       // of a .dsc: its Sources stanza

	// Set once it stops short of being published.
	stage string
	err   error

	job *bulkJob // the change that adds it, once submitted
}

func (f *bulkFile) fail(stage string, err error) {
	f.stage, f.err = stage, err
}

func (f *bulkFile) pkg() string {
	return f.name + " " + f.version + " " + f.arch
}

// bulkJob is one submitted change of a bulk publish.
type bulkJob struct {
	ref   client.JobRef
	files []*bulkFile
	job   client.Job // its last state seen
	err   error      // why following it ended short of published
	// givenUpIn is the state the command gave the job up in ("": it did not).
	givenUpIn string
}

// publishBulk publishes items in a release: it checks every item before the
// first byte is uploaded (naming every bad one), uploads the missing ones
// with bounded parallelism, submits them in changes of at most
// maxChangeAdds and follows and signs every job. It returns nil only when
// every item is published; otherwise it prints which are and which are not
// (--json: files[]), and a rerun completes the rest: uploads are skipped by
// SHA-256 and adding a package already published is a no-op.
func (a *app) publishBulk(ctx context.Context, c *client.Client, t bulkTarget, items []bulkItem) error {
	if t.Parallel < 1 {
		return usageErrorf("--parallel must be at least 1")
	}
	if len(items) == 0 {
		return failf("invalid", "nothing to publish")
	}
	files := make([]*bulkFile, len(items))
	for i, it := range items {
		files[i] = &bulkFile{bulkItem: it}
	}
	r := &bulkRun{a: a, c: c, t: t, files: files}
	r.run(ctx)
	return r.report(ctx)
}

// bulkRun is one bulk publish in progress.
type bulkRun struct {
	a     *app
	c     *client.Client
	t     bulkTarget
	files []*bulkFile
	jobs  []*bulkJob
	// fatal is an error that stopped the run before any file could be
	// published (keys, release, bad files); nothing was uploaded for it
	// unless it is a giving up (timeout, interrupt) during the uploads.
	fatal error
	sess  *signing
}

func (r *bulkRun) run(ctx context.Context) {
	if r.fatal = r.prepare(ctx); r.fatal == nil {
		r.submitAndFollow(ctx)
	}
}

// prepare does everything before the first change is submitted: the keys,
// the checks of every file and of the quotas, then the uploads.
func (r *bulkRun) prepare(ctx context.Context) error {
	var err error
	if r.sess, err = r.a.newSigning(ctx, r.c, r.t.Sign, r.t.Repo); err != nil {
		return err
	}
	rel, err := r.c.GetRelease(ctx, r.t.Repo, r.t.Release)
	if err != nil {
		return err
	}
	check := func(ctx context.Context) error { return r.check(ctx, rel) }
	for _, step := range []func(context.Context) error{check, r.findOnServer, r.checkQuota, r.upload} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// forEach runs fn on every file, at most parallel at once, stopping at the
// first error fn returns.
func forEach(ctx context.Context, parallel int, files []*bulkFile, fn func(ctx context.Context, f *bulkFile) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(ctx, f) })
	}
	return g.Wait()
}

// check reads every item once: its control file (a .deb whose architecture
// the release has), its SHA-256 and size. Every bad item is named in one
// error, before anything is uploaded.
func (r *bulkRun) check(ctx context.Context, rel client.Release) error {
	var missing []string
	for _, f := range r.files {
		if !slices.Contains(rel.Components, f.Component) && !slices.Contains(missing, f.Component) {
			missing = append(missing, f.Component)
		}
	}
	if len(missing) > 0 {
		return failf("invalid", "release %s has no component %s (it has %s); nothing was uploaded",
			rel.Name, strings.Join(missing, ", "), strings.Join(rel.Components, ", "))
	}
	var invalid atomic.Bool
	err := forEach(ctx, r.t.Parallel, r.files, func(ctx context.Context, f *bulkFile) error {
		if k := f.Known; k != nil && f.SHA256 != "" && f.Size >= 0 {
			f.name, f.version, f.arch = k.Name, k.Version, k.Arch
			checkArch(f, rel)
			return ctx.Err()
		}
		var ctl *apt.Control
		var err error
		if f.SourceDir != "" {
			if err = readSource(f); err == nil {
				r.sess.addOwnSource(f.SHA256, f.stanza)
			}
		} else {
			ctl, err = readItem(f)
		}
		var bad *invalidPackage
		switch {
		case errors.As(err, &bad):
			invalid.Store(true)
			f.refuse(fmt.Sprintf("%s: %v", f.Label, bad.err))
		case err != nil:
			f.refuse(fmt.Sprintf("%s: %v", f.Label, err))
		default:
			if ctl != nil {
				f.name, f.version, f.arch = ctl.Package, ctl.Version, ctl.Architecture
			}
			checkArch(f, rel)
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	var bad []string
	for _, f := range r.files {
		if f.stage == stageCheck {
			bad = append(bad, f.err.Error())
		}
	}
	if len(bad) == 0 {
		bad = r.dedupe()
	}
	code := "invalid"
	if invalid.Load() {
		code = "invalid_package"
	}
	switch len(bad) {
	case 0:
		return nil
	case 1:
		return failf(code, "%s; nothing was uploaded", bad[0])
	}
	return failf(code, "%d of %d files cannot be published; nothing was uploaded:\n  %s",
		len(bad), len(r.files), strings.Join(bad, "\n  "))
}

// checkArch refuses a file whose architecture the release does not have.
func checkArch(f *bulkFile, rel client.Release) {
	if f.arch != apt.ArchAll && f.arch != apt.ArchSource && !slices.Contains(rel.Architectures, f.arch) {
		f.refuse(fmt.Sprintf("%s is %s %s for %s, but release %s has no architecture %s (it has %s)",
			f.Label, f.name, f.version, f.arch, rel.Name, f.arch, strings.Join(rel.Architectures, ", ")))
	}
}

// refuse fails a file at the check, with msg naming it.
func (f *bulkFile) refuse(msg string) {
	f.fail(stageCheck, errors.New(msg))
}

// dedupe marks files that repeat another's content in the same component
// (published with it), and refuses two contents for one package version:
// the server would refuse the second after both were uploaded.
func (r *bulkRun) dedupe() []string {
	type content struct{ sha, component string }
	first := map[content]*bulkFile{}
	byPkg := map[string]*bulkFile{}
	var bad []string
	for _, f := range r.files {
		if prev := first[content{f.SHA256, f.Component}]; prev != nil {
			f.dup = prev
			continue
		}
		first[content{f.SHA256, f.Component}] = f
		if prev := byPkg[f.pkg()]; prev != nil && prev.SHA256 != f.SHA256 {
			f.refuse(fmt.Sprintf("%s: %s is also %s with other content; a repository holds one content per package version",
				f.Label, prev.Label, f.pkg()))
			bad = append(bad, f.err.Error())
			continue
		}
		byPkg[f.pkg()] = f
	}
	return bad
}

// invalidPackage is an item whose content is not a .deb aptq accepts.
type invalidPackage struct{ err error }

func (e *invalidPackage) Error() string { return e.err.Error() }

// readItem reads an item through once, checking it as the server will (the
// whole archive, not only its control file: the bytes are read anyway, to
// hash them), and fills in its SHA-256 and size (or checks them, when the
// item knew them).
func readItem(f *bulkFile) (*apt.Control, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	h := sha256.New()
	n := &countingWriter{w: h}
	src := io.TeeReader(rc, n)
	ctl, files, err := apt.ReadDebFiles(src)
	if errors.Is(err, apt.ErrInvalidPackage) {
		return nil, &invalidPackage{err: err}
	}
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, src); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case f.SHA256 != "" && f.SHA256 != sum:
		return nil, fmt.Errorf("its SHA-256 is %s, not %s as announced", sum, f.SHA256)
	case f.Size >= 0 && f.Size != n.n:
		return nil, fmt.Errorf("it is %d bytes, not %d as announced", n.n, f.Size)
	}
	f.SHA256, f.Size, f.debFiles = sum, n.n, files
	return ctl, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// findOnServer asks which contents the server has already (HEAD by
// SHA-256), so that a rerun uploads only what is missing.
func (r *bulkRun) findOnServer(ctx context.Context) error {
	return forEach(ctx, r.t.Parallel*2, r.unique(), func(ctx context.Context, f *bulkFile) error {
		has, err := r.c.HasPackage(ctx, f.SHA256)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Label, err)
		}
		f.onServer = has
		return nil
	})
}

// unique are the files that are not a repeat of another.
func (r *bulkRun) unique() []*bulkFile {
	out := make([]*bulkFile, 0, len(r.files))
	for _, f := range r.files {
		if f.dup == nil {
			out = append(out, f)
		}
	}
	return out
}

// upload sends every missing content, at most Parallel at once. A refused
// upload fails its file and the others go on; a giving up (timeout,
// interrupt) stops them all and is returned.
func (r *bulkRun) upload(ctx context.Context) error {
	if r.t.Changes != nil {
		if err := r.t.Changes.upload(ctx, r.c); err != nil {
			return err
		}
	}
	var todo []*bulkFile
	var total int64
	for _, f := range r.unique() {
		if f.onServer {
			r.a.progress("%s: already on the server (sha256 %s)", f.Label, f.SHA256)
			continue
		}
		todo = append(todo, f)
		total += f.Size
	}
	switch len(todo) {
	case 0:
		return nil
	case 1: // a bar for the one file, as it always had
		return r.uploadSingle(ctx, todo[0])
	}
	p := r.a.ui.BulkUpload(len(todo), total)
	defer p.Close()
	err := forEach(ctx, r.t.Parallel, todo, func(ctx context.Context, f *bulkFile) error {
		pkg, err := r.uploadOne(ctx, f, p)
		switch {
		case ctx.Err() != nil:
			f.fail(stageUpload, ctx.Err())
			return ctx.Err()
		case err != nil:
			f.fail(stageUpload, err)
			p.Failed(filepath.Base(f.Label), r.a.describe(ctx, err).Error())
		default:
			p.Done(filepath.Base(f.Label), f.Size, fmt.Sprintf("%s %s %s", pkg.Name, pkg.Version, pkg.Architecture))
		}
		return nil
	})
	return err
}

func (r *bulkRun) uploadSingle(ctx context.Context, f *bulkFile) error {
	rc, err := f.Open()
	if err != nil {
		f.fail(stageUpload, err)
		return nil
	}
	defer rc.Close()
	t := r.a.ui.Upload(rc, filepath.Base(f.Label), f.Size)
	pkg, err := r.send(ctx, f, t)
	if err != nil {
		t.Fail()
		f.fail(stageUpload, err)
		return ctx.Err()
	}
	t.Done(fmt.Sprintf("%s %s %s", pkg.Name, pkg.Version, pkg.Architecture))
	return nil
}

func (r *bulkRun) uploadOne(ctx context.Context, f *bulkFile, p *bulkProgress) (client.Package, error) {
	rc, err := f.Open()
	if err != nil {
		return client.Package{}, err
	}
	defer rc.Close()
	return r.send(ctx, f, p.reader(rc))
}
