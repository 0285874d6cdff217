package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

func packagePath(sha256 string) string {
	return "/v1/packages/" + url.PathEscape(sha256)
}

// HasPackage reports whether the tenant already uploaded the content with
// this SHA-256 (hex), in which case the upload can be skipped.
func (c *Client) HasPackage(ctx context.Context, sha256 string) (bool, error) {
	err := c.doJSON(ctx, http.MethodHead, packagePath(sha256), nil, nil)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// UploadPackage streams a .deb whose SHA-256 (hex) is sha256. size is its
// length, sent as Content-Length; pass -1 when unknown.
//
// The body is read as it is sent, never held in memory. If body is also an
// io.Seeker (an *os.File of a regular file is), transient failures are retried
// by seeking back to the offset body had when UploadPackage was called;
// otherwise the upload is tried once. UploadPackage does not close body.
func (c *Client) UploadPackage(ctx context.Context, sha256 string, body io.Reader, size int64) (Package, error) {
	var p Package
	err := c.upload(ctx, packagePath(sha256), "application/vnd.debian.binary-package", body, size, &p)
	return p, err
}

// upload PUTs body to path as UploadPackage does and decodes the answer
// into out.
func (c *Client) upload(ctx context.Context, path, contentType string, body io.Reader, size int64, out any) error {
	cl := call{
		method:      http.MethodPut,
		path:        path,
		size:        size,
		contentType: contentType,
		once:        true,
	}
	var start int64
	seeker, ok := body.(io.Seeker)
	if ok {
		// Seek fails on pipes, which then cannot be sent twice.
		var err error
		start, err = seeker.Seek(0, io.SeekCurrent)
		cl.once = err != nil
	}
	var prev *detachable
	cl.body = func() (io.ReadCloser, error) {
		if prev != nil {
			prev.detach()
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return nil, fmt.Errorf("rewind for retry: %w", err)
			}
		}
		prev = &detachable{r: body}
		return prev, nil
	}
	err := c.do(ctx, cl, out)
	if prev != nil {
		prev.detach()
	}
	return err
}

var errDetached = errors.New("upload body was detached from its request")

// detachable hands body to one request. net/http may go on reading a
// request's body after the response arrived; detaching guarantees no such
// read touches body once we rewind it for the next attempt or return.
type detachable struct {
	mu       sync.Mutex
	r        io.Reader
	detached bool
}

func (d *detachable) Read(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.detached {
		return 0, errDetached
	}
	return d.r.Read(p)
}

// Close is what net/http calls when it is done; the caller's body stays open.
func (d *detachable) Close() error {
	d.detach()
	return nil
}

func (d *detachable) detach() {
	d.mu.Lock()
	d.detached = true
	d.mu.Unlock()
}
