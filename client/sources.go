package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/aptq/aptq/wire"
)

// HasFile reports whether the tenant already uploaded the source package
// file with this SHA-256 (hex).
func (c *Client) HasFile(ctx context.Context, sha256 string) (bool, error) {
	err := c.doJSON(ctx, http.MethodHead, "/v1/files/"+url.PathEscape(sha256), nil, nil)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// UploadFile streams a file of a source package (a tarball, a diff, a
// signature) whose SHA-256 is sha256, as UploadPackage streams a .deb.
func (c *Client) UploadFile(ctx context.Context, sha256 string, body io.Reader, size int64) (wire.FileResponse, error) {
	var f wire.FileResponse
	err := c.upload(ctx, "/v1/files/"+url.PathEscape(sha256), "application/octet-stream", body, size, &f)
	return f, err
}

// UploadSource sends a source package's .dsc, once every file it lists is
// uploaded; the server answers with the source as a package of
// architecture "source".
func (c *Client) UploadSource(ctx context.Context, sha256 string, body io.Reader, size int64) (Package, error) {
	var p Package
	err := c.upload(ctx, "/v1/sources/"+url.PathEscape(sha256), "text/plain", body, size, &p)
	return p, err
}
