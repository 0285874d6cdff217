package main

import (
	"context"
	"fmt"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/mirror"
)

// importParallel is import's default --parallel.
const importParallel = 4

// maxImportAdds is the most adds one change may hold (the server's limit).
const maxImportAdds = 1000

// publishImport uploads and publishes entries in changes of at most
// maxImportAdds, one after the other.
func (a *app) publishImport(ctx context.Context, _ *client.Client, f importFlags, src *mirror.Source, todo []mirror.Entry) error {
	for start := 0; start < len(todo); start += maxImportAdds {
		batch := todo[start:min(start+maxImportAdds, len(todo))]
		a.uploaded = nil
		err := a.publish(ctx, f.sign, f.repo, func(ctx context.Context, c *client.Client) (client.JobRef, error) {
			var change client.ChangeRequest
			for i, e := range batch {
				if err := a.importOne(ctx, c, src, e); err != nil {
					return client.JobRef{}, fmt.Errorf("%w (%d of %d packages published)", err, start, len(todo))
				}
				a.ui.Status(fmt.Sprintf("uploaded %d of %d", start+i+1, len(todo)))
				change.Adds = append(change.Adds, client.Add{SHA256: e.SHA256, Component: e.Component})
				a.uploaded = append(a.uploaded, e.SHA256)
			}
			return c.SubmitChange(ctx, f.repo, f.release, change)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// importOne uploads one pool file unless the server has its content.
func (a *app) importOne(ctx context.Context, c *client.Client, src *mirror.Source, e mirror.Entry) error {
	has, err := c.HasPackage(ctx, e.SHA256)
	if err != nil || has {
		return err
	}
	rc, err := src.OpenFile(ctx, e)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := c.UploadPackage(ctx, e.SHA256, rc, e.Size); err != nil {
		return fmt.Errorf("%s: %w", e.Filename, err)
	}
	return nil
}
