package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/client"
)

// changesUpload is a .changes given to pkg add: the items it publishes and
// its bytes, uploaded to the server as the record of the upload.
type changesUpload struct {
	items []bulkItem
	data  []byte
	sum   string
}

// readChanges reads a .changes and checks every file it lists, beside it,
// against its sizes and checksums. Its .deb and .udeb files and its .dsc
// become items; the files the .dsc lists go with the .dsc; the .buildinfo
// is not published (aptq keeps the .changes itself, which lists it). Any
// other file (a stray tarball) is refused. A Distribution other than
// release is only a warning: --release decides where it goes.
func (a *app) readChanges(path, component, release string) (*changesUpload, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, failf("invalid", "%s: %v", path, err)
	}
	c, err := apt.ParseChanges(data)
	if err != nil {
		return nil, failf("invalid_package", "%s: %v; nothing was uploaded", path, err)
	}
	if c.Distribution != release {
		a.progress("warning: %s is for distribution %s; publishing to release %s as --release says",
			path, c.Distribution, release)
	}
	dir := filepath.Dir(path)
	var items []bulkItem
	var dscFiles, rest []string
	for _, f := range c.Files {
		got, err := describeLocal(filepath.Join(dir, f.Name), f.Name)
		if err == nil {
			err = f.Compare(got)
		}
		if err != nil {
			return nil, failf("invalid_package", "%s lists %s: %v; nothing was uploaded", path, f.Name, err)
		}
		switch filepath.Ext(f.Name) {
		case ".deb", ".udeb", ".dsc":
			it := localItem(filepath.Join(dir, f.Name), component)
			it.SHA256, it.Size = f.SHA256, f.Size
			items = append(items, it)
			if filepath.Ext(f.Name) == ".dsc" {
				d, err := apt.ParseDSC(readAll(filepath.Join(dir, f.Name)))
				if err != nil {
					return nil, failf("invalid_package", "%s: %v; nothing was uploaded", f.Name, err)
				}
				for _, sf := range d.Files {
					dscFiles = append(dscFiles, sf.Name)
				}
			}
		case ".buildinfo":
			a.progress("%s: %s is not published (the .changes that lists it is kept)", path, f.Name)
		default:
			rest = append(rest, f.Name)
		}
	}
	for _, name := range rest {
		if !slices.Contains(dscFiles, name) {
			return nil, failf("invalid", "%s lists %s, which is neither a .deb, a .udeb, a .dsc, a .buildinfo nor a file of its .dsc; nothing was uploaded",
				path, name)
		}
	}
	if len(items) == 0 {
		return nil, failf("invalid", "%s lists no .deb and no .dsc", path)
	}
	return &changesUpload{items: items, data: data, sum: apt.DescribeFile("", data).SHA256}, nil
}

// readAll is the content of a file the caller has just hashed ("" if it
// went away, which the parser then refuses).
func readAll(path string) []byte {
	data, _ := os.ReadFile(path)
	return data
}

// upload puts the .changes on the server, where it stays as the record of
// the upload (signature included).
func (u *changesUpload) upload(ctx context.Context, c *client.Client) error {
	has, err := c.HasFile(ctx, u.sum)
	if err == nil && !has {
		_, err = c.UploadFile(ctx, u.sum, bytes.NewReader(u.data), int64(len(u.data)))
	}
	if err != nil {
		return fmt.Errorf("upload the .changes: %w", err)
	}
	return nil
}

// sha256 is the SHA-256 a change records for u ("" for none).
func (u *changesUpload) sha256() string {
	if u == nil {
		return ""
	}
	return u.sum
}

// expandChanges replaces a .changes among paths by what it publishes, and
// returns it too (nil when there is none; one at most: each is one upload).
func (a *app) expandChanges(paths []string, component, release string) ([]bulkItem, *changesUpload, error) {
	var items []bulkItem
	var changes *changesUpload
	for _, p := range paths {
		if !strings.HasSuffix(p, ".changes") {
			items = append(items, localItem(p, component))
			continue
		}
		if changes != nil {
			return nil, nil, usageErrorf("give one .changes per command (each is one upload)")
		}
		var err error
		if changes, err = a.readChanges(p, component, release); err != nil {
			return nil, nil, err
		}
		items = append(items, changes.items...)
	}
	return items, changes, nil
}
