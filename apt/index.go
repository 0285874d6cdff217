package apt

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

// Compression names a compressed variant of an index file by its file-name
// extension. The uncompressed file is always produced as well.
type Compression string

// The compressions apt understands that aptq produces.
const (
	Gzip Compression = "gz"
	XZ   Compression = "xz"
)

// gzipLevel trades index size for publish latency; apt accepts any level.
// On the first 10 MB of Debian bookworm's main/binary-amd64/Packages,
// level 1 takes 41 ms for a ratio of 3.90, the default level 6 79 ms for
// 4.34, level 9 194 ms for 4.48. The 11% larger file is worth half the
// time: apt prefers Packages.xz when it is listed, and at level 6 a full
// 100 000-package generation no longer fits its one-second budget.
// (BenchmarkGzipLevel repeats the measurement on synthetic data.)
const gzipLevel = gzip.BestSpeed

// xzDictCap is the LZMA2 dictionary size of Packages.xz. With this encoder
// (github.com/ulikunitz/xz, hash-table matcher) a 256 KiB dictionary is
// about six times faster than the 8 MiB default for a 3% larger file (same
// 10 MB as above: 548 ms, ratio 4.48, vs 3.1 s, ratio 4.60), allocates a
// quarter of the memory, and keeps the decoder in apt small.
const xzDictCap = 256 << 10

// IndexFile is one file listed in Release, with its path relative to
// dists/<release>/ (e.g. "main/binary-amd64/Packages.xz").
type IndexFile struct {
	Path string
	// Data is the content, or nil when the caller carries only the metadata
	// of an index that did not change since it was last published.
	Data []byte
	Size int64
	// Digests of Data, lowercase hex. Release lists SHA256 and SHA512.
	MD5, SHA1, SHA256, SHA512 string
}

// GenerateIndexes builds <component>/binary-<arch>/Packages and its
// compressed variants from pkgs, which must be the packages of that
// component whose architecture is arch or "all" (see SplitByArch).
//
// Stanzas are written as apt-ftparchive writes them (field order, spelling,
// Filename/Size/digests in place) and sorted by package name, version
// (Debian order) and architecture. No packages yields an empty Packages file
// and valid empty compressed files. The output is deterministic: the same
// packages, in any order, give the same bytes. The compressed variants are
// produced concurrently. The result lists Packages first, then one file per
// compression, in the given order.
func GenerateIndexes(component, arch string, pkgs []Package, compressions []Compression) ([]IndexFile, error) {
	if err := checkComponent(component); err != nil {
		return nil, err
	}
	if err := checkArchitecture(arch); err != nil {
		return nil, fmt.Errorf("architecture: %w", err)
	}
	for i, c := range compressions {
		if c != Gzip && c != XZ {
			return nil, fmt.Errorf("unsupported compression %q (want %q or %q)", c, Gzip, XZ)
		}
		for _, d := range compressions[:i] {
			if c == d {
				return nil, fmt.Errorf("compression %q given twice", c)
			}
		}
	}
	entries, err := sortedEntries(arch, pkgs)
	if err != nil {
		return nil, fmt.Errorf("%s/binary-%s: %w", component, arch, err)
	}
	plain := renderPackages(entries)

	base := component + "/binary-" + arch + "/Packages"
	files := make([]IndexFile, 1+len(compressions))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	wg.Go(func() { files[0] = describe(base, plain) })
	for i, c := range compressions {
		wg.Go(func() {
			data, err := compress(c, plain)
			files[i+1], errs[i+1] = describe(base+"."+string(c), data), err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// checkComponent rejects component names that would escape dists/<release>/
// or break the Release file's Components line.
func checkComponent(c string) error {
	if c == "" {
		return fmt.Errorf("component is empty")
	}
	for _, seg := range strings.Split(c, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("component %q: empty, . or .. path segment", c)
		}
		for _, ch := range []byte(seg) {
			if !isAlnum(ch) && ch != '-' && ch != '_' && ch != '.' && ch != '+' {
				return fmt.Errorf("component %q may contain only letters, digits, / and - _ . +", c)
			}
		}
	}
	return nil
}

// compress returns data compressed deterministically: the gzip header
// carries no name and no modification time, and both encoders use fixed
// settings.
func compress(c Compression, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := newCompressor(c, &buf, len(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c, err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("%s: %w", c, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", c, err)
	}
	return buf.Bytes(), nil
}

// newCompressor returns the encoder for c writing to buf, which it sizes
// for a typical Packages compression ratio.
func newCompressor(c Compression, buf *bytes.Buffer, size int) (io.WriteCloser, error) {
	if c == XZ {
		buf.Grow(size/3 + 64)
		return xz.WriterConfig{DictCap: xzDictCap}.NewWriter(buf)
	}
	buf.Grow(size/3 + 64)
	zw, err := gzip.NewWriterLevel(buf, gzipLevel)
	if err != nil {
		return nil, err
	}
	// This encoder writes the zero time as a bogus date in 2042, unlike
	// compress/gzip; the Unix epoch is written as "no MTIME".
	zw.ModTime = time.Unix(0, 0)
	return zw, nil
}

// describe returns the IndexFile for data, computing the four digests
// concurrently: on a large index hashing costs as much as compressing.
func describe(path string, data []byte) IndexFile {
	f := IndexFile{Path: path, Data: data, Size: int64(len(data))}
	sums := []struct {
		dst *string
		new func() hash.Hash
	}{{&f.MD5, md5.New}, {&f.SHA1, sha1.New}, {&f.SHA256, sha256.New}, {&f.SHA512, sha512.New}}
	var wg sync.WaitGroup
	for _, s := range sums {
		wg.Go(func() {
			h := s.new()
			h.Write(data)
			*s.dst = hex.EncodeToString(h.Sum(nil))
		})
	}
	wg.Wait()
	return f
}
