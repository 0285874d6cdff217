package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// OpenFile opens e's pool file for streaming. The reader checks the content
// against the index as it passes: a byte past e.Size, or at the end a size
// or SHA-256 that differs, is an error naming the file, returned instead of
// io.EOF, so a consumer that reads to the end (an upload) never completes
// with content the index did not vouch for.
func (s *Source) OpenFile(ctx context.Context, e Entry) (io.ReadCloser, error) {
	if err := CheckPath(e.Filename); err != nil {
		return nil, err
	}
	rc, err := s.Fetcher.Open(ctx, e.Filename)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Filename, err)
	}
	return &checkedReader{rc: rc, e: e, h: sha256.New()}, nil
}

type checkedReader struct {
	rc   io.ReadCloser
	e    Entry
	h    hash.Hash
	n    int64
	done error // sticky result once the end was checked
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.done != nil {
		return 0, c.done
	}
	// Read at most one byte past the size the index gives, to notice more.
	if max := c.e.Size + 1 - c.n; int64(len(p)) > max {
		p = p[:max]
	}
	n, err := c.rc.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	if c.n > c.e.Size {
		c.done = fmt.Errorf("%w: %s is larger than the %d bytes its index says", ErrIntegrity, c.e.Filename, c.e.Size)
		return 0, c.done
	}
	if err == io.EOF {
		c.done = c.check()
		if n > 0 && c.done == io.EOF {
			return n, nil
		}
		return n, c.done
	}
	if err != nil {
		return n, fmt.Errorf("%s: %w", c.e.Filename, err)
	}
	return n, nil
}

func (c *checkedReader) check() error {
	if c.n != c.e.Size {
		return fmt.Errorf("%w: %s has %d bytes, its index says %d", ErrIntegrity, c.e.Filename, c.n, c.e.Size)
	}
	if sum := hex.EncodeToString(c.h.Sum(nil)); sum != c.e.SHA256 {
		return fmt.Errorf("%w: %s has SHA256 %s, its index says %s", ErrIntegrity, c.e.Filename, sum, c.e.SHA256)
	}
	return io.EOF
}

func (c *checkedReader) Close() error { return c.rc.Close() }
