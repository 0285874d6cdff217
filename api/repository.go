package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
)

// serveAPT streams a repository object from S3 for apt clients: GET and
// HEAD, with Range. Only dists/ and pool/ are served, and a pool file only
// once a committed generation names it: a package of a change not (yet)
// committed stays embargoed. dists/ is served as it is, since the CLI
// fetches the by-hash objects of a round awaiting its signature here.
func (s *Server) serveAPT(c echo.Context) error {
	ctx := c.Request().Context()
	// apt escapes "+" and "~" in pool file names; keys hold them plain.
	path, err := url.PathUnescape(c.Param("*"))
	notFound := store.Errorf(store.CodeNotFound, "not found")
	if err != nil || strings.Contains(path, "..") || !(strings.HasPrefix(path, "dists/") || strings.HasPrefix(path, "pool/")) {
		return notFound
	}
	// No key aptq writes holds a control character or invalid UTF-8, and S3
	// answers such keys with errors, not 404s: answer here without asking it.
	if !validKey(c.Param("tenant")) || !validKey(c.Param("repo")) || !validKey(path) {
		return notFound
	}
	repo, err := s.store.RepositoryByPath(ctx, c.Param("tenant"), c.Param("repo"))
	if err != nil {
		return err
	}
	key := repo.Prefix + path
	if !validKey(key) {
		return notFound
	}
	if strings.HasPrefix(path, "pool/") {
		published, err := s.store.PoolFilePublished(ctx, repo.ID, path)
		if err != nil {
			return err
		}
		if !published {
			return notFound
		}
	}
	h := c.Response().Header()
	if c.Request().Method == http.MethodHead {
		info, err := s.blob.Head(ctx, key)
		if err != nil {
			return blobError(err)
		}
		setObjectHeaders(h, info)
		h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		return c.NoContent(http.StatusOK)
	}
	status := http.StatusOK
	var rng string
	if header := c.Request().Header.Get("Range"); header != "" {
		info, err := s.blob.Head(ctx, key)
		if err != nil {
			return blobError(err)
		}
		start, end, ok := parseRange(header, info.Size)
		if !ok {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
			return c.NoContent(http.StatusRequestedRangeNotSatisfiable)
		}
		rng = fmt.Sprintf("bytes=%d-%d", start, end)
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, info.Size))
		h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	}
	body, info, err := s.blob.Get(ctx, key, rng)
	if err != nil {
		return blobError(err)
	}
	defer body.Close()
	setObjectHeaders(h, info)
	if rng == "" {
		h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	}
	c.Response().WriteHeader(status)
	_, err = io.Copy(c.Response(), body)
	return err
}

// maxKeyBytes and maxSegmentBytes are what S3 (1024 bytes a key) and
// file-system backed S3 servers such as versitygw (255 bytes a name) hold.
const (
	maxKeyBytes     = 1024
	maxSegmentBytes = 255
)

// validKey says whether key (or a part of one) is an object key that S3
// servers store: valid UTF-8 without control characters, within the
// length limits.
func validKey(key string) bool {
	if len(key) > maxKeyBytes || !utf8.ValidString(key) {
		return false
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return false
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if len(seg) > maxSegmentBytes {
			return false
		}
	}
	return true
}

func setObjectHeaders(h http.Header, info blob.Info) {
	h.Set("Accept-Ranges", "bytes")
	if info.ETag != "" {
		h.Set("ETag", `"`+info.ETag+`"`)
	}
	if !info.LastModified.IsZero() {
		h.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	}
	ct := info.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
}

func blobError(err error) error {
	if errors.Is(err, blob.ErrNotFound) {
		return store.Errorf(store.CodeNotFound, "not found")
	}
	return err
}

// parseRange reads a single-range "bytes=a-b", "bytes=a-" or "bytes=-n"
// header against an object of size bytes; ok is false when it cannot be
// satisfied (several ranges are not supported and answered with 416 too).
func parseRange(header string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(header, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	var err error
	switch {
	case first == "":
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		start, end = max(size-n, 0), size-1
	default:
		if start, err = strconv.ParseInt(first, 10, 64); err != nil {
			return 0, 0, false
		}
		end = size - 1
		if last != "" {
			if end, err = strconv.ParseInt(last, 10, 64); err != nil {
				return 0, 0, false
			}
			end = min(end, size-1)
		}
	}
	if start < 0 || start > end || start >= size {
		return 0, 0, false
	}
	return start, end, true
}
