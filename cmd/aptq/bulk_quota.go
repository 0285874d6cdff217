package main

import (
	"context"

	"github.com/aptq/aptq/client"
)

// checkQuota refuses, before anything is uploaded, what the repository's
// quotas would refuse after the uploads: the tenant's upload bytes (the
// contents the server does not have yet) and the repository's packages
// (package versions it does not hold yet). A server that does not show its
// quotas is not checked here; it still enforces them.
func (r *bulkRun) checkQuota(ctx context.Context) error {
	repo, err := r.c.GetRepo(ctx, r.t.Repo)
	if err != nil {
		return err
	}
	q := repo.Quota
	if q == nil {
		return nil
	}
	var missing int
	var bytes int64
	for _, f := range r.unique() {
		if !f.onServer {
			missing++
			bytes += f.Size
		}
	}
	if left := q.MaxUploadBytes - q.UploadBytes; bytes > left {
		return failf("quota_exceeded", "the %d files the server does not have yet are %s, but the upload_bytes quota "+
			"has %s left (%s of %s used); nothing was uploaded", missing, formatBytes(bytes), formatBytes(max(left, 0)),
			formatBytes(q.UploadBytes), formatBytes(q.MaxUploadBytes))
	}
	claims := map[string]bool{}
	for _, f := range r.unique() {
		claims[f.pkg()] = true
	}
	if q.Packages+int64(len(claims)) <= q.MaxPackages {
		return nil
	}
	// Near the limit: what the release holds already is claimed. A package
	// of another release of the repository is claimed too, so this may
	// count too many, never too few.
	held, err := r.c.ListReleasePackages(ctx, r.t.Repo, r.t.Release, client.PackageFilter{})
	if err != nil {
		return err
	}
	for _, p := range held {
		delete(claims, p.Name+" "+p.Version+" "+p.Architecture)
	}
	if left := q.MaxPackages - q.Packages; int64(len(claims)) > left {
		return failf("quota_exceeded", "these files add %d package versions that repository %s does not hold yet, but "+
			"its packages_per_repository quota has %d left (%d of %d used); nothing was uploaded",
			len(claims), r.t.Repo, max(left, 0), q.Packages, q.MaxPackages)
	}
	return nil
}
