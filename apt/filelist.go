package apt

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Bounds of a package's file list, which Contents indexes list: Debian's
// largest packages hold under 200 000 files, and a path is at most
// PATH_MAX. A data.tar beyond them is refused, so that a hostile upload
// cannot make the server keep (or a round render) an unbounded list.
const (
	MaxPackageFiles = 500_000
	maxFileListSize = 64 << 20 // the paths' bytes, newlines included
	maxPathLength   = 4096
)

// ReadDebFiles is ReadDeb that also returns the package's file list: the
// paths of the non-directory members of data.tar, without their leading
// "./" or "/", sorted and unique, as a Contents index lists them. Each
// path is checked as it is read (no "." or ".." segment, no control
// character: a Contents line holds one path) and the list is bounded
// (MaxPackageFiles, and its total size); a package that breaks them is
// invalid. The archive is streamed as ReadDeb streams it: the list is the
// only thing that grows with the package.
func ReadDebFiles(r io.Reader) (*Control, []string, error) {
	src := &errReader{r: r}
	var files []string
	size := 0
	c, err := readDeb(bufio.NewReaderSize(src, 64<<10), func(hdr *tar.Header) error {
		if hdr.Typeflag == tar.TypeDir {
			return nil
		}
		p, err := contentsPath(hdr.Name)
		if err != nil {
			return err
		}
		if len(files) == MaxPackageFiles {
			return fmt.Errorf("more than %d files", MaxPackageFiles)
		}
		if size += len(p) + 1; size > maxFileListSize {
			return fmt.Errorf("file names longer than %d bytes in all", maxFileListSize)
		}
		files = append(files, p)
		return nil
	})
	if src.err != nil {
		return nil, nil, fmt.Errorf("read package: %w", src.err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidPackage, err)
	}
	slices.Sort(files)
	// Never nil: an empty list (a package of directories only) is a list.
	return c, append([]string{}, slices.Compact(files)...), nil
}

// contentsPath is a data.tar member name as Contents lists it.
func contentsPath(name string) (string, error) {
	p := strings.TrimLeft(strings.TrimPrefix(name, "./"), "/")
	if err := checkContentsPath(p); err != nil {
		return "", fmt.Errorf("member %q: %w", truncate(name), err)
	}
	return p, nil
}

// checkContentsPath checks a path of a file list: relative, clean of "."
// and ".." segments, and one line of a Contents index.
func checkContentsPath(p string) error {
	if p == "" || len(p) > maxPathLength {
		return fmt.Errorf("path is empty or longer than %d bytes", maxPathLength)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errors.New("path has an empty, . or .. segment")
		}
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return errors.New("path has a control character")
		}
	}
	return nil
}

// EncodeFileList is how a package's file list is stored: its paths, one a
// line, gzip-compressed (a tenth of the plain size on typical packages).
func EncodeFileList(files []string) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level
	for _, f := range files {
		zw.Write([]byte(f)) // writes to a bytes.Buffer do not fail
		zw.Write([]byte{'\n'})
	}
	zw.Close()
	return buf.Bytes()
}

// DecodeFileList reads what EncodeFileList wrote (never nil), with the bounds and
// checks of ReadDebFiles: the stored list is trusted no more than an upload.
func DecodeFileList(data []byte) ([]string, error) {
	if len(data) == 0 {
		return []string{}, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("file list: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(zr, maxFileListSize+1))
	if err != nil {
		return nil, fmt.Errorf("file list: %w", err)
	}
	if len(plain) > maxFileListSize {
		return nil, fmt.Errorf("file list: larger than %d bytes", maxFileListSize)
	}
	if len(plain) == 0 {
		return []string{}, nil
	}
	files := strings.Split(strings.TrimSuffix(string(plain), "\n"), "\n")
	if len(files) > MaxPackageFiles {
		return nil, fmt.Errorf("file list: more than %d files", MaxPackageFiles)
	}
	for i, f := range files {
		if err := checkContentsPath(f); err != nil {
			return nil, fmt.Errorf("file list: %q: %w", truncate(f), err)
		}
		if i > 0 && files[i-1] >= f {
			return nil, fmt.Errorf("file list: not sorted and unique at %q", truncate(f))
		}
	}
	return files, nil
}
