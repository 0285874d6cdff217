package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
)

// cut starts a round of the given pending changes: it generates the indexes
// of generation g+1 and uploads their content-addressed by-hash objects as
// each is ready (no InRelease names them yet, so this shows readers
// nothing), and stores the exact Release bytes for the CLI to sign.
func (w *PublishWorker) cut(ctx context.Context, lease store.Lease, pending []store.Change, log *slog.Logger) (store.Round, error) {
	committed, err := w.cfg.Store.ReleaseByID(ctx, w.cfg.Store.Pool, lease.ReleaseID)
	if err != nil {
		return store.Round{}, err
	}
	// The round publishes the release as its updates leave it; the commit
	// writes the same settings.
	rel := store.WithSettings(committed, pending)
	date, err := w.cfg.Store.NextReleaseDate(ctx, rel.ID)
	if err != nil {
		return store.Round{}, err
	}
	repo, err := w.repository(ctx, rel)
	if err != nil {
		return store.Round{}, err
	}
	start := time.Now()
	retention, err := w.retention(ctx, rel, pending)
	if err != nil {
		return store.Round{}, err
	}
	gen, err := w.generate(ctx, rel, withRetention(pending, retention), repo.Prefix)
	if err != nil {
		return store.Round{}, err
	}
	w.cfg.Metrics.Uploaded("by_hash", time.Since(start))
	files := make([]apt.IndexFile, len(gen.all))
	for i, f := range gen.all {
		files[i] = apt.IndexFile{Path: f.Path, Size: f.Size, MD5: f.MD5, SHA256: f.SHA256}
	}
	meta := apt.ReleaseMeta{
		Origin: rel.Origin, Label: rel.Label, Suite: rel.Suite, Codename: rel.Codename,
		Version: rel.Version, Description: rel.Description, Date: date,
		Generation: rel.Generation + 1, Architectures: rel.Architectures, Components: rel.Components,
		NotAutomatic: rel.NotAutomatic, ButAutomaticUpgrades: rel.ButAutomaticUpgrades, SignedBy: rel.SignedBy,
		KeepVersions: rel.KeepVersions,
	}
	if rel.ValidFor != nil {
		meta.ValidUntil = date.Add(*rel.ValidFor)
	}
	releaseBytes := apt.BuildRelease(meta, files)
	ids := make([]int64, len(pending))
	for i, c := range pending {
		ids[i] = c.ID
	}
	round, err := w.cfg.Store.CutRound(ctx, store.Cut{
		Lease: lease, Generation: rel.Generation + 1, ReleaseDate: date, ReleaseBytes: releaseBytes,
		Files: gen.all, ChangeIDs: ids, SignatureTimeout: w.cfg.SignatureTimeout, ByHashFiles: gen.newFiles,
		ByHashBytes: gen.bytes, KeepVersions: rel.KeepVersions, Retention: retention,
	})
	if err != nil {
		return store.Round{}, err
	}
	log.Info("round cut", slog.Int64("round_id", round.ID), slog.Int64("generation", round.Generation),
		slog.Int("changes", len(ids)), slog.Int("retention_removes", len(retention)), slog.Int("new_index_files", len(gen.newFiles)),
		slog.Duration("took", time.Since(start)), slog.Int64("by_hash_bytes", gen.bytes))
	return round, nil
}

// drive takes a round from whatever state it is in to published or failed.
// A round left by a crashed holder resumes here from its database state.
func (w *PublishWorker) drive(ctx context.Context, lease store.Lease, round store.Round, log *slog.Logger) error {
	log = log.With(slog.Int64("round_id", round.ID), slog.Int64("generation", round.Generation))
	for {
		var err error
		switch round.State {
		case store.RoundAwaitingSignature:
			err = w.awaitSignature(ctx, round)
			if current, rerr := w.cfg.Store.RoundByID(ctx, round.ID); err == nil && rerr == nil && current.State == store.RoundSigned {
				w.cfg.Metrics.SignatureWaited(time.Since(round.CreatedAt))
			}
		case store.RoundSigned:
			err = w.verifyAndCommit(ctx, lease, round, log)
		case store.RoundCommitted:
			err = w.upload(ctx, lease, round, log)
		default: // published or failed
			return nil
		}
		current, rerr := w.cfg.Store.RoundByID(ctx, round.ID)
		if err != nil {
			// A round aborted meanwhile (a change of it was cancelled) ends here.
			if rerr == nil && current.State == store.RoundFailed {
				return nil
			}
			return err
		}
		if rerr != nil {
			return rerr
		}
		round = current
	}
}

// signatureRecheck bounds how long a waiter relies on notifications alone.
const signatureRecheck = 5 * time.Second

// awaitSignature returns once the round is no longer awaiting a signature;
// past its deadline (by the database clock) it fails the round, and as soon
// as a change's client is gone it aborts it (see store.DropGoneClients).
func (w *PublishWorker) awaitSignature(ctx context.Context, round store.Round) error {
	for {
		wake := w.cfg.Listener.Wait(round.ReleaseID)
		current, err := w.cfg.Store.RoundByID(ctx, round.ID)
		if err != nil {
			return err
		}
		if current.State != store.RoundAwaitingSignature {
			return nil
		}
		expired, err := w.cfg.Store.ExpireRound(ctx, current)
		if err != nil || expired {
			return err
		}
		aborted, clientsUntil, err := w.cfg.Store.DropGoneClients(ctx, current)
		if err != nil || aborted {
			return err
		}
		wait := min(time.Until(current.SignatureDeadline), signatureRecheck)
		if !clientsUntil.IsZero() {
			wait = min(wait, time.Until(clientsUntil))
		}
		if wait < 100*time.Millisecond {
			// The database clock has not reached the deadline yet; let it catch up.
			wait = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-wake:
		case <-time.After(wait):
		}
	}
}

// verifyAndCommit checks the stored signatures again against the keys
// registered now, then commits the generation (fenced by the lease).
func (w *PublishWorker) verifyAndCommit(ctx context.Context, lease store.Lease, round store.Round, log *slog.Logger) error {
	rel, err := w.cfg.Store.ReleaseByID(ctx, w.cfg.Store.Pool, round.ReleaseID)
	if err != nil {
		return err
	}
	keys, err := w.cfg.Store.SigningKeys(ctx, w.cfg.Store.Pool, rel.RepositoryID)
	if err != nil {
		return err
	}
	armored := make([][]byte, len(keys))
	for i, k := range keys {
		armored[i] = []byte(k.Armored)
	}
	signers, err := sign.Verify(round.ReleaseBytes, round.InRelease, round.ReleaseGPG, armored)
	if err != nil {
		log.Warn("stored signature no longer verifies", slog.Any("error", err))
		return w.cfg.Store.FailRound(ctx, round, "bad_signature", "signature rejected at commit: "+err.Error())
	}
	changes, err := w.cfg.Store.RoundChanges(ctx, w.cfg.Store.Pool, round.ID)
	if err != nil {
		return err
	}
	if err := w.cfg.Store.CommitRound(ctx, lease, round, changes, signers); err != nil {
		return fmt.Errorf("commit round %d: %w", round.ID, err)
	}
	log.Info("round committed", slog.Int("changes", len(changes)))
	return nil
}

// repository returns the repository a release belongs to.
func (w *PublishWorker) repository(ctx context.Context, rel store.Release) (store.Repository, error) {
	repo, err := w.cfg.Store.RepositoryByID(ctx, rel.RepositoryID)
	if err != nil {
		return store.Repository{}, fmt.Errorf("repository of release %d: %w", rel.ID, err)
	}
	return repo, nil
}

var errLostRelease = errors.New("InRelease was replaced by another writer")
