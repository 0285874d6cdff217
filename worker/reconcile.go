package worker

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
)

// ReconcileWorker makes S3 hold exactly what a release's last committed
// generation names. It needs the release's lease (it may write InRelease),
// skips a release whose round is in progress (its leader resumes it), and
// never publishes an older generation over a newer one.
type ReconcileWorker struct {
	river.WorkerDefaults[jobs.ReconcileArgs]
	pub *PublishWorker
}

// busyPatience is how long a requested reconcile waits for a busy release
// (a round being published, whose leader lets go moments later) before it
// reports the release skipped.
const busyPatience = 2 * time.Minute

// Work reconciles one release and stores the report. A user asked for it,
// so a release that is busy right now is tried again shortly rather than
// skipped at once.
func (w *ReconcileWorker) Work(ctx context.Context, job *river.Job[jobs.ReconcileArgs]) error {
	if _, err := w.pub.cfg.Store.ReleaseByID(ctx, w.pub.cfg.Store.Pool, job.Args.ReleaseID); errors.Is(err, store.ErrNotFound) {
		return nil // deleted since the job was enqueued
	}
	report, err := w.pub.reconcile(ctx, job.Args.ReleaseID)
	if err != nil {
		return err
	}
	if (report.Outcome == outcomeLeaseHeld || report.Outcome == outcomeRoundOpen) && time.Since(job.CreatedAt) < busyPatience {
		return river.JobSnooze(500 * time.Millisecond)
	}
	report.JobID = &job.ID
	return w.pub.cfg.Store.InsertReconcileReport(ctx, report)
}

// Outcomes of a reconcile that found the release busy.
const (
	outcomeLeaseHeld = "skipped: a worker holds the release"
	outcomeRoundOpen = "skipped: a round is in progress"
)

// reconcile checks and repairs one release; a busy release is reported as skipped.
func (w *PublishWorker) reconcile(ctx context.Context, releaseID int64) (store.ReconcileReport, error) {
	report := store.ReconcileReport{ReleaseID: releaseID}
	lease, ok, err := w.cfg.Store.AcquireLease(ctx, releaseID, w.cfg.Holder, w.cfg.LeaseTTL)
	if err != nil {
		return report, err
	}
	if !ok {
		report.Outcome = outcomeLeaseHeld
		return report, nil
	}
	defer func() {
		_ = w.cfg.Store.ReleaseLease(context.WithoutCancel(ctx), lease)
	}()
	ctx, stop := w.heartbeat(ctx, lease, w.cfg.Logger)
	defer stop()

	rel, err := w.cfg.Store.ReleaseByID(ctx, w.cfg.Store.Pool, releaseID)
	if err != nil {
		return report, err
	}
	report.Generation = rel.Generation
	if rel.DeletingAt != nil {
		// Its delete job removes what a repair would put back.
		report.Outcome = "skipped: the release is being deleted"
		return report, nil
	}
	if rel.Generation == 0 {
		report.Outcome = "ok: nothing published yet"
		return report, nil
	}
	if _, err := w.cfg.Store.OpenRound(ctx, rel.ID); err == nil {
		report.Outcome = outcomeRoundOpen
		return report, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return report, err
	}
	round, err := w.cfg.Store.RoundOfGeneration(ctx, rel.ID, rel.Generation)
	if err != nil {
		return report, err
	}
	repo, err := w.repository(ctx, rel)
	if err != nil {
		return report, err
	}
	r := &reconciler{w: w, rel: rel, round: round, prefix: repo.Prefix, report: &report}
	if err := r.run(ctx, lease); err != nil {
		report.Outcome = "failed: " + err.Error()
		w.cfg.Logger.Warn("reconcile failed", slog.Int64("release_id", rel.ID), slog.Any("error", err))
		return report, nil
	}
	repaired := len(report.Repairs) - r.differing
	w.cfg.Metrics.Repaired(repaired)
	var outcome []string
	if repaired > 0 {
		outcome = append(outcome, fmt.Sprintf("repaired %d objects", repaired))
	}
	if r.differing > 0 {
		outcome = append(outcome, fmt.Sprintf("%d pool files differ from their packages (not repaired)", r.differing))
	}
	report.Outcome = cmp.Or(strings.Join(outcome, "; "), "ok")
	return report, nil
}

type reconciler struct {
	w      *PublishWorker
	rel    store.Release
	round  store.Round
	prefix string
	report *store.ReconcileReport
	// differing counts pool files reported, not repaired (they are among report.Repairs).
	differing int
}

func (r *reconciler) key(path string) string { return distsKey(r.prefix, r.rel.Name, path) }

func (r *reconciler) repaired(key, problem, action string) {
	r.report.Repairs = append(r.report.Repairs, store.Repair{Key: key, Problem: problem, Action: action})
}

// state says whether the object at key holds size bytes with this MD5 (S3's
// ETag of a single-part object); problem is "" when it does.
func (r *reconciler) state(ctx context.Context, key string, size int64, md5hex string) (string, error) {
	r.report.Checked++
	info, err := r.w.cfg.Blob.Head(ctx, key)
	switch {
	case errors.Is(err, blob.ErrNotFound):
		return "missing", nil
	case err != nil:
		return "", err
	case info.Size != size || info.ETag != md5hex:
		return "content differs", nil
	}
	return "", nil
}

// byHashKeys are the by-hash objects of a file of the committed generation:
// under SHA256 if S3 holds the file, and under SHA512 too in a generation
// from before aptq dropped SHA512 (its InRelease lists it, and apt fetches
// by the strongest listed hash).
func (r *reconciler) byHashKeys(f store.IndexFile) []string {
	var keys []string
	if !f.ListedOnly {
		keys = append(keys, r.key(apt.ByHashPath(f.Path, "SHA256", f.SHA256)))
		if f.SHA512 != "" {
			keys = append(keys, r.key(apt.ByHashPath(f.Path, "SHA512", f.SHA512)))
		}
	}
	return keys
}

// run checks in the publish order and repairs in it too: pool files,
// by-hash objects, flat indexes, Release and Release.gpg, InRelease last.
func (r *reconciler) run(ctx context.Context, lease store.Lease) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := r.pool(ctx); err != nil {
		return err
	}
	broken := map[string]bool{} // index directories with a bad by-hash object
	for _, f := range r.round.Files {
		for _, key := range r.byHashKeys(f) {
			problem, err := r.state(ctx, key, f.Size, f.MD5)
			if err != nil {
				return err
			}
			if problem != "" {
				broken[indexDir(f.Path)] = true
			}
		}
	}
	if len(broken) > 0 {
		if err := r.regenerate(ctx, broken); err != nil {
			return err
		}
	}
	for _, f := range r.round.Files {
		if f.ListedOnly {
			continue
		}
		key := r.key(f.Path)
		problem, err := r.state(ctx, key, f.Size, f.MD5)
		if err != nil {
			return err
		}
		if problem != "" {
			// Read and put rather than copied: a copy would carry the by-hash
			// object's immutable Cache-Control to a file every round replaces.
			data, err := r.w.read(ctx, r.key(apt.ByHashPath(f.Path, "SHA256", f.SHA256)))
			if err != nil {
				return fmt.Errorf("repair %s: %w", key, err)
			}
			if _, err := r.w.cfg.Blob.Put(ctx, key, bytes.NewReader(data), int64(len(data)),
				blob.PutOptions{SHA256: f.SHA256, CacheControl: r.w.indexCacheControl()}); err != nil {
				return fmt.Errorf("repair %s: %w", key, err)
			}
			r.repaired(key, problem, "copied from by-hash")
		}
	}
	if err := r.w.cfg.Store.RenewLease(ctx, lease, r.w.cfg.LeaseTTL); err != nil {
		return err
	}
	for _, obj := range []struct {
		name string
		data []byte
	}{{"Release", r.round.ReleaseBytes}, {"Release.gpg", r.round.ReleaseGPG}} {
		key := r.key(obj.name)
		problem, err := r.state(ctx, key, int64(len(obj.data)), md5Hex(obj.data))
		if err != nil {
			return err
		}
		if problem != "" {
			if _, err := r.w.cfg.Blob.Put(ctx, key, bytes.NewReader(obj.data), int64(len(obj.data)),
				blob.PutOptions{CacheControl: r.w.indexCacheControl()}); err != nil {
				return fmt.Errorf("repair %s: %w", key, err)
			}
			r.repaired(key, problem, "uploaded from the database")
		}
	}
	return r.inRelease(ctx)
}

// pool checks the pool files the committed generation names against one
// listing of the repository's pool: a missing one is put back from the
// uploaded package; one with other content (size, or MD5 where the ETag is
// one) is reported, never overwritten.
func (r *reconciler) pool(ctx context.Context) error {
	files, err := r.w.cfg.Store.ReleasePoolFiles(ctx, r.rel.ID)
	if err != nil {
		return err
	}
	sourceFiles, err := r.w.cfg.Store.ReleaseSourceFiles(ctx, r.rel.ID)
	if err != nil {
		return err
	}
	files = append(files, sourceFiles...)
	stored := map[string]blob.Info{}
	if err := r.w.cfg.Blob.List(ctx, r.prefix+"pool/", func(info blob.Info) error {
		stored[info.Key] = info
		return nil
	}); err != nil {
		return fmt.Errorf("list pool files: %w", err)
	}
	for _, f := range files {
		key := r.prefix + f.Filename
		r.report.Checked++
		info, ok := stored[key]
		switch {
		case !ok:
			if _, err := r.w.ensurePoolFile(ctx, key, f.Package); err != nil {
				return fmt.Errorf("repair %s: %w", key, err)
			}
			r.repaired(key, "missing", "copied from the uploaded package")
		case !poolFileMatches(info, f.Package):
			r.differing++
			r.repaired(key, fmt.Sprintf("content differs (%d bytes, ETag %s; want %d bytes, MD5 %s)",
				info.Size, info.ETag, f.Package.Size, f.Package.MD5),
				"not repaired: pool files are never overwritten; delete the object and reconcile again")
		}
	}
	return nil
}

// regenerate rebuilds the indexes of the given directories from the
// membership of the committed generation; generation is deterministic, so
// the bytes must hash as the Release says, or nothing is written.
func (r *reconciler) regenerate(ctx context.Context, dirs map[string]bool) error {
	changed := map[indexKey]bool{}
	for _, k := range indexKeys(r.rel) {
		if dirs[k.dir()] {
			changed[k] = true
		}
	}
	members, err := r.w.membersAfter(ctx, r.rel, changed, nil)
	if err != nil {
		return err
	}
	want := map[string]store.IndexFile{}
	for _, f := range r.round.Files {
		want[f.Path] = f
	}
	kinds, _ := fileKinds(r.rel)
	for k := range changed {
		ix, err := apt.NewIndex(k.component, k.arch, apt.SplitByArch(members[k.component], []string{k.arch})[k.arch])
		if err != nil {
			return err
		}
		for _, c := range kinds {
			f, err := ix.File(c)
			if err != nil {
				return err
			}
			if err := r.restoreByHash(ctx, f, want); err != nil {
				return err
			}
		}
	}
	if err := r.regenerateSources(ctx, dirs, want); err != nil {
		return err
	}
	return r.regenerateContents(ctx, dirs)
}

// restoreByHash puts back the by-hash objects of f, regenerated, where S3
// lacks them or holds other bytes, once f is found to be exactly the
// committed generation's file (want, by path).
func (r *reconciler) restoreByHash(ctx context.Context, f apt.IndexFile, want map[string]store.IndexFile) error {
	w, ok := want[f.Path]
	if !ok || w.SHA256 != f.SHA256 {
		return fmt.Errorf("regenerated %s does not match generation %d's; not repairing", f.Path, r.rel.Generation)
	}
	for _, key := range r.byHashKeys(w) {
		problem, err := r.state(ctx, key, f.Size, w.MD5)
		if err != nil {
			return err
		}
		if problem == "" {
			continue
		}
		if _, err := r.w.cfg.Blob.Put(ctx, key, bytes.NewReader(f.Data), int64(len(f.Data)),
			blob.PutOptions{SHA256: f.SHA256, CacheControl: immutableCacheControl}); err != nil {
			return fmt.Errorf("repair %s: %w", key, err)
		}
		r.repaired(key, problem, "regenerated from the database")
	}
	return nil
}

// inRelease puts back the committed generation's InRelease if S3 lacks it
// or holds an older one; a newer one in S3 is reported, never overwritten.
func (r *reconciler) inRelease(ctx context.Context) error {
	key := r.key("InRelease")
	r.report.Checked++
	var current []byte
	var etag string
	body, info, err := r.w.cfg.Blob.Get(ctx, key, "")
	switch {
	case errors.Is(err, blob.ErrNotFound):
	case err != nil:
		return err
	default:
		current, err = io.ReadAll(io.LimitReader(body, 16<<20))
		body.Close()
		if err != nil {
			return err
		}
		etag = info.ETag
	}
	if bytes.Equal(current, r.round.InRelease) {
		return r.w.cfg.Store.SetInReleaseETag(ctx, r.rel.ID, r.rel.Generation, etag)
	}
	problem, opts := "missing", blob.PutOptions{IfNoneMatch: true}
	if current != nil {
		if g := generationOf(current); g > r.rel.Generation {
			return fmt.Errorf("S3 holds generation %d, newer than the database's %d: not touching it", g, r.rel.Generation)
		}
		problem, opts = "older or different generation", blob.PutOptions{IfMatch: etag}
	}
	opts.CacheControl = r.w.indexCacheControl()
	put, err := r.w.cfg.Blob.Put(ctx, key, bytes.NewReader(r.round.InRelease), int64(len(r.round.InRelease)), opts)
	if err != nil {
		return fmt.Errorf("repair %s: %w", key, err)
	}
	r.repaired(key, problem, "uploaded from the database, conditionally")
	return r.w.cfg.Store.SetInReleaseETag(ctx, r.rel.ID, r.rel.Generation, put.ETag)
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}
