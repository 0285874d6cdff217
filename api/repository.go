package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// serveAPT streams a repository object from S3 for apt clients: GET and
// HEAD, with Range, If-None-Match and (for immutable objects)
// If-Modified-Since answered by S3, and
// the object's ETag, Last-Modified and Cache-Control passed on. Only dists/ and pool/ are served, and a pool file only
// once a committed generation names it: a package of a change not (yet)
// committed stays embargoed. dists/ is served as it is, since the CLI
// fetches the by-hash objects of a round awaiting its signature here.
func (s *Server) serveAPT(c echo.Context) error {
	ctx := c.Request().Context()
	// apt escapes "+" and "~" in pool file names; keys hold them plain.
	path, err := url.PathUnescape(c.Param("*"))
	notFound := store.Errorf(wire.CodeNotFound, "not found")
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
	// Range and the conditions go to S3 with the GET, which evaluates them:
	// one request, no Head first.
	req := c.Request()
	opts := blob.GetOptions{IfNoneMatch: req.Header.Get("If-None-Match")}
	if header := req.Header.Get("Range"); header != "" {
		if !validRange(header) {
			return c.NoContent(http.StatusRequestedRangeNotSatisfiable)
		}
		opts.Range = header
	}
	// If-Modified-Since has whole seconds: an InRelease (or any file that
	// is rewritten in place) replaced within the second a client last read
	// it would be answered 304, and apt would keep the older generation
	// until the next write. Such files are small; only the immutable ones
	// (pool/, by-hash/) get 304s by date. ETags (If-None-Match) are exact.
	immutable := strings.HasPrefix(path, "pool/") || strings.Contains(path, "/by-hash/")
	if v := req.Header.Get("If-Modified-Since"); v != "" && opts.IfNoneMatch == "" && immutable {
		// RFC 9110 13.1.3: If-None-Match, when present, decides alone.
		if t, err := http.ParseTime(v); err == nil {
			opts.IfModifiedSince = t
		}
	}
	body, info, err := s.blob.Open(ctx, key, opts)
	switch {
	case errors.Is(err, blob.ErrNotModified):
		return c.NoContent(http.StatusNotModified)
	case errors.Is(err, blob.ErrRange):
		return c.NoContent(http.StatusRequestedRangeNotSatisfiable)
	case err != nil:
		return blobError(err)
	}
	defer body.Close()
	setObjectHeaders(h, info)
	// HTTP dates have whole seconds; S3 servers that compare the stored
	// time with its fraction (versitygw) answer 200 to the Last-Modified
	// they gave, so the answer is checked here too, before any byte is read.
	if !opts.IfModifiedSince.IsZero() && info.ContentRange == "" && !info.LastModified.IsZero() &&
		!info.LastModified.Truncate(time.Second).After(opts.IfModifiedSince) {
		h.Del("Content-Type")
		return c.NoContent(http.StatusNotModified)
	}
	status, length := http.StatusOK, info.Size
	if info.ContentRange != "" {
		start, end, ok := contentRange(info.ContentRange)
		if !ok {
			return fmt.Errorf("S3 answered Content-Range %q", info.ContentRange)
		}
		status, length = http.StatusPartialContent, end-start+1
		h.Set("Content-Range", info.ContentRange)
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
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
	if info.CacheControl != "" {
		h.Set("Cache-Control", info.CacheControl)
	}
}

func blobError(err error) error {
	if errors.Is(err, blob.ErrNotFound) {
		return store.Errorf(wire.CodeNotFound, "not found")
	}
	return err
}

// validRange accepts the single ranges "bytes=a-b", "bytes=a-" and
// "bytes=-n" and nothing else (S3 does not serve several ranges at once).
func validRange(header string) bool {
	spec, found := strings.CutPrefix(header, "bytes=")
	first, last, found2 := strings.Cut(spec, "-")
	if !found || !found2 || (first == "" && last == "") {
		return false
	}
	for _, n := range []string{first, last} {
		if n == "" {
			continue
		}
		if _, err := strconv.ParseUint(n, 10, 63); err != nil {
			return false
		}
	}
	return true
}

// contentRange reads the first and last byte of "bytes a-b/size".
func contentRange(v string) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes ")
	span, _, found2 := strings.Cut(spec, "/")
	first, last, found3 := strings.Cut(span, "-")
	if !found || !found2 || !found3 {
		return 0, 0, false
	}
	var err1, err2 error
	start, err1 = strconv.ParseInt(first, 10, 64)
	end, err2 = strconv.ParseInt(last, 10, 64)
	return start, end, err1 == nil && err2 == nil && start <= end
}
