package store

import "context"

// RepositoryQuota is how much of its quotas a repository uses: its
// packages (claimed name, version and architecture), and its tenant's
// uploaded bytes. A client that publishes many packages reads it to refuse
// up front what a quota would refuse after the uploads.
type RepositoryQuota struct {
	Packages, MaxPackages       int64
	UploadBytes, MaxUploadBytes int64
}

// RepositoryQuota returns the repository's quota use.
func (s *Store) RepositoryQuota(ctx context.Context, repoID int64) (RepositoryQuota, error) {
	var q RepositoryQuota
	err := s.Pool.QueryRow(ctx, `
		SELECT r.packages, r.max_packages, t.upload_bytes, t.max_upload_bytes
		FROM repositories r JOIN tenants t ON t.id = r.tenant_id WHERE r.id = $1`, repoID).
		Scan(&q.Packages, &q.MaxPackages, &q.UploadBytes, &q.MaxUploadBytes)
	return q, translate("repository quota", err)
}
