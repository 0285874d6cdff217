package main

import (
	"context"
	"io"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/mirror"
)

// publishImport publishes the entries through the bulk pipeline: each pool
// file streams from the source to the server, checked against its index on
// the way (a mismatch fails its upload, so nothing of it is published).
// The index already vouches for each package's name, version and
// architecture, so nothing is downloaded before its upload.
func (a *app) publishImport(ctx context.Context, c *client.Client, f importFlags, src *mirror.Source, todo []mirror.Entry) error {
	items := make([]bulkItem, len(todo))
	for i, e := range todo {
		items[i] = bulkItem{
			Label:     e.Filename,
			Size:      e.Size,
			SHA256:    e.SHA256,
			Component: e.Component,
			Known:     &apt.PackageKey{Name: e.Package, Version: e.Version, Arch: e.Architecture},
			Open:      func() (io.ReadCloser, error) { return src.OpenFile(ctx, e) },
		}
	}
	return a.publishBulk(ctx, c, bulkTarget{Repo: f.repo, Release: f.release, Sign: f.sign, Parallel: f.parallel}, items)
}
