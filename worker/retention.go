package worker

import (
	"context"
	"slices"

	"github.com/aptq/aptq/store"
)

// retention returns what the release's retention (keep_versions) removes
// once the round's changes apply: in each component, the versions of a
// (name, architecture) beyond the newest keep_versions by dpkg order. The
// round lists them beside its changes, so the signer sees and checks them.
func (w *PublishWorker) retention(ctx context.Context, rel store.Release, changes []store.Change) ([]store.ChangeRemove, error) {
	if rel.KeepVersions <= 0 {
		return nil, nil
	}
	var ids []int64
	for _, c := range changes {
		for _, a := range c.Adds {
			ids = append(ids, a.PackageID)
		}
	}
	added, err := w.cfg.Store.PackagesByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	var touched []store.ChangeRemove
	for _, c := range changes {
		for _, a := range c.Adds {
			p := added[a.PackageID]
			touched = append(touched, store.ChangeRemove{Component: a.Component, Name: p.Name, Architecture: p.Architecture})
		}
	}
	members, err := w.cfg.Store.RetentionCandidates(ctx, w.cfg.Store.Pool, rel.ID, rel.KeepVersions, nil, touched)
	if err != nil {
		return nil, err
	}
	// The membership after the changes, applied in order as CommitRound does.
	in := map[store.ChangeRemove]bool{}
	for _, m := range members {
		in[m] = true
	}
	for _, c := range changes {
		for _, a := range c.Adds {
			p := added[a.PackageID]
			in[store.ChangeRemove{Component: a.Component, Name: p.Name, Version: p.Version, Architecture: p.Architecture}] = true
		}
		for _, r := range c.Removes {
			delete(in, r)
		}
	}
	after := make([]store.ChangeRemove, 0, len(in))
	for k := range in {
		after = append(after, k)
	}
	return store.RetentionDrops(after, rel.KeepVersions), nil
}

// withRetention is the round's changes followed by its retention, as the
// indexes are built and the commit applies them.
func withRetention(changes []store.Change, retention []store.ChangeRemove) []store.Change {
	if len(retention) == 0 {
		return changes
	}
	return append(slices.Clone(changes), store.Change{Removes: retention})
}
