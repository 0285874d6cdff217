package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/aptq/aptq/apt/debtest"
)

// debFile is a generated .deb on disk.
type debFile struct {
	Path    string
	Name    string
	Version string
	SHA256  string
	Size    int64
}

// descriptionWords make the long descriptions, so that a Packages stanza
// is 600-900 bytes like Debian's rather than debtest's bare 250.
var descriptionWords = strings.Fields(`the a library tool for and with of to in data files
	server client support utility network graphics fast small simple command line
	interface package development documentation runtime module plugin system
	configuration image audio video text parser compiler debugging headers shared`)

// debOptions are the options of the i-th package named name: amd64,
// version 1.0-1, a Depends line, a homepage and two lines of description,
// for a Packages stanza of about 800 bytes (Debian 12's main averages 750).
func debOptions(name string, i int) debtest.Options {
	return debOptionsArch(name, i, "amd64")
}

// debOptionsArch is debOptions for another architecture.
func debOptionsArch(name string, i int, arch string) debtest.Options {
	var desc strings.Builder
	desc.WriteString("aptq benchmark package " + name)
	for line := range 2 {
		desc.WriteString("\n")
		for w := range 12 {
			desc.WriteString(descriptionWords[(i*7+line*13+w*3)%len(descriptionWords)] + " ")
		}
	}
	return debtest.Options{
		Package: name, Version: "1.0-1", Architecture: arch,
		Depends:     "libc6 (>= 2.34), libssl3 (>= 3.0.0), zlib1g (>= 1:1.2.0)",
		Description: desc.String(),
		Extra:       []debtest.Field{{Name: "Homepage", Value: "https://example.org/" + name}},
	}
}

// debSet returns n packages named fmt.Sprintf(nameFormat, i). Generating
// 20 000 takes a while (two gzip streams each), so sets are kept in the
// cache directory between runs, with a manifest of their hashes; a set
// whose first package no longer comes out the same (debtest or debOptions
// changed) is written again.
func (b *bench) debSet(ctx context.Context, set, nameFormat string, n int) ([]debFile, error) {
	return b.debSetWith(ctx, set, nameFormat, n, debOptions)
}

// debSetWith is debSet with the options of each package from opts.
func (b *bench) debSetWith(ctx context.Context, set, nameFormat string, n int, opts func(name string, i int) debtest.Options) ([]debFile, error) {
	if b.cache == "" {
		return writeDebs(ctx, filepath.Join(b.work, set), nameFormat, n, opts)
	}
	dir := filepath.Join(b.cache, set)
	manifestPath := filepath.Join(dir, "manifest.json")
	if debs, ok := loadDebSet(manifestPath, nameFormat, n, opts); ok {
		return debs[:n], nil
	}
	b.logf("writing %d packages into %s", n, dir)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	debs, err := writeDebs(ctx, dir, nameFormat, n, opts)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(debManifest{NameFormat: nameFormat, Debs: debs})
	if err != nil {
		return nil, err
	}
	return debs, os.WriteFile(manifestPath, data, 0o644)
}

type debManifest struct {
	NameFormat string
	Debs       []debFile
}

// loadDebSet returns a cached set of at least n packages, if it is still
// what writeDebs would write.
func loadDebSet(path, nameFormat string, n int, opts func(name string, i int) debtest.Options) ([]debFile, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var m debManifest
	if json.Unmarshal(data, &m) != nil || m.NameFormat != nameFormat || len(m.Debs) < n || n == 0 {
		return nil, false
	}
	var buf bytes.Buffer
	if debtest.WriteDeb(&buf, opts(fmt.Sprintf(nameFormat, 0), 0)) != nil {
		return nil, false
	}
	if sum := sha256.Sum256(buf.Bytes()); hex.EncodeToString(sum[:]) != m.Debs[0].SHA256 {
		return nil, false
	}
	for _, d := range m.Debs[:n] {
		if info, err := os.Stat(d.Path); err != nil || info.Size() != d.Size {
			return nil, false
		}
	}
	return m.Debs, true
}

// writeDebs writes n packages named fmt.Sprintf(nameFormat, i) into dir,
// on every core.
func writeDebs(ctx context.Context, dir, nameFormat string, n int, opts func(name string, i int) debtest.Options) ([]debFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	debs := make([]debFile, n)
	next := make(chan int)
	errs := make(chan error, runtime.NumCPU())
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d, err := writeDeb(dir, opts(fmt.Sprintf(nameFormat, i), i))
				if err != nil {
					errs <- err
					return
				}
				debs[i] = d
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	return debs, err
}

// writeDeb writes one package (streamed: DataSize may be large) and hashes it.
func writeDeb(dir string, opts debtest.Options) (debFile, error) {
	d := debFile{Path: filepath.Join(dir, opts.Package+"_"+opts.Version+"_"+opts.Architecture+".deb"),
		Name: opts.Package, Version: opts.Version}
	f, err := os.Create(d.Path)
	if err != nil {
		return d, err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if err := debtest.WriteDeb(cw, opts); err != nil {
		f.Close()
		return d, fmt.Errorf("write %s: %w", d.Path, err)
	}
	if err := f.Close(); err != nil {
		return d, err
	}
	d.SHA256, d.Size = hex.EncodeToString(h.Sum(nil)), cw.n
	return d, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func paths(debs []debFile) []string {
	out := make([]string, len(debs))
	for i, d := range debs {
		out[i] = d.Path
	}
	return out
}
