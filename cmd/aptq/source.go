package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/client"
)

// sourceFile is a file a local .dsc lists, found beside it.
type sourceFile struct {
	path string
	apt.SourceFile
}

// readSource reads a .dsc item and every file it lists (in SourceDir),
// checking each against the .dsc's sizes and digests as the server will,
// and fills in the item's package fields, SHA-256 and size.
func readSource(f *bulkFile) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, apt.MaxDSCSize+1))
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	d, err := apt.ParseDSC(data)
	if err != nil {
		return &invalidPackage{err: err}
	}
	if f.SHA256 != "" && f.SHA256 != d.Self.SHA256 {
		return fmt.Errorf("its SHA-256 is %s, not %s as announced", d.Self.SHA256, f.SHA256)
	}
	f.files = f.files[:0]
	for _, sf := range d.Files {
		path := filepath.Join(f.SourceDir, sf.Name)
		got, err := describeLocal(path, sf.Name)
		if err == nil {
			err = sf.Compare(got)
		}
		if err != nil {
			return &invalidPackage{err: fmt.Errorf("%s, which the .dsc lists: %w", sf.Name, err)}
		}
		f.files = append(f.files, sourceFile{path: path, SourceFile: sf})
	}
	f.name, f.version, f.arch = d.Source, d.Version, apt.ArchSource
	f.stanza = apt.SourceControl(d).String()
	f.SHA256, f.Size = d.Self.SHA256, d.Self.Size
	return nil
}

// describeLocal hashes a local file as it streams.
func describeLocal(path, name string) (apt.SourceFile, error) {
	file, err := os.Open(path)
	if err != nil {
		return apt.SourceFile{}, err
	}
	defer file.Close()
	return apt.DescribeReader(name, file)
}

// uploadSource uploads the files of a .dsc item the server lacks, then the
// .dsc itself (body).
func (r *bulkRun) uploadSource(ctx context.Context, f *bulkFile, body io.Reader) (client.Package, error) {
	for _, sf := range f.files {
		has, err := r.c.HasFile(ctx, sf.SHA256)
		if err != nil || has {
			if err != nil {
				return client.Package{}, fmt.Errorf("%s: %w", sf.Name, err)
			}
			continue
		}
		file, err := os.Open(sf.path)
		if err != nil {
			return client.Package{}, err
		}
		_, err = r.c.UploadFile(ctx, sf.SHA256, file, sf.Size)
		file.Close()
		if err != nil {
			return client.Package{}, fmt.Errorf("%s: %w", sf.Name, err)
		}
	}
	// The .dsc is small: read whole, so that a retry can send it again.
	data, err := io.ReadAll(io.LimitReader(body, apt.MaxDSCSize+1))
	if err != nil {
		return client.Package{}, err
	}
	return r.c.UploadSource(ctx, f.SHA256, bytes.NewReader(data), int64(len(data)))
}

// send uploads an item: a .deb, or a source package.
func (r *bulkRun) send(ctx context.Context, f *bulkFile, body io.Reader) (client.Package, error) {
	if f.SourceDir != "" {
		return r.uploadSource(ctx, f, body)
	}
	return r.c.UploadPackage(ctx, f.SHA256, body, f.Size)
}
