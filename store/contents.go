package store

import (
	"context"
)

// PackageFileLists returns the stored file lists (apt.EncodeFileList) of
// the packages with these ids that have one; a package uploaded before
// aptq read file lists is absent.
func (s *Store) PackageFileLists(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, file_list FROM packages WHERE id = ANY($1) AND file_list IS NOT NULL`, ids)
	if err != nil {
		return nil, translate("package file lists", err)
	}
	defer rows.Close()
	out := make(map[int64][]byte, len(ids))
	for rows.Next() {
		var id int64
		var list []byte
		if err := rows.Scan(&id, &list); err != nil {
			return nil, translate("package file lists", err)
		}
		out[id] = list
	}
	return out, translate("package file lists", rows.Err())
}

// SetPackageFileList stores the file list of a package uploaded before
// aptq read file lists (a package's list never changes once set).
func (s *Store) SetPackageFileList(ctx context.Context, id int64, list []byte, count int) error {
	_, err := s.Pool.Exec(ctx, `UPDATE packages SET file_list = $2, file_count = $3 WHERE id = $1 AND file_list IS NULL`, id, list, count)
	return translate("set package file list", err)
}
