package api

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

func packageResponse(p store.Package) PackageResponse {
	return PackageResponse{SHA256: p.SHA256, Name: p.Name, Version: p.Version,
		Architecture: p.Architecture, Source: p.Source, Size: p.Size}
}

var sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)

func sha256Param(c echo.Context) (string, error) {
	sum := c.Param("sha256")
	if !sha256Re.MatchString(sum) {
		return "", badRequest("%q is not a lowercase hex SHA-256", sum)
	}
	return sum, nil
}

// headBySHA256 answers whether the tenant has the upload the path names
// (a package, or a file a source lists): 200, or 404 from find.
func headBySHA256[T any](find func(ctx context.Context, tenantID int64, sha256 string) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		sum, err := sha256Param(c)
		if err != nil {
			return err
		}
		if _, err := find(c.Request().Context(), tenantOf(c).ID, sum); err != nil {
			return err
		}
		return c.NoContent(http.StatusOK)
	}
}

// hashes computes every checksum a Packages stanza lists in one pass.
type hashes struct {
	md5, sha1, sha256, sha512 hash.Hash
	size                      int64
}

func newHashes() *hashes {
	return &hashes{md5: md5.New(), sha1: sha1.New(), sha256: sha256.New(), sha512: sha512.New()}
}

func (h *hashes) Write(p []byte) (int, error) {
	h.md5.Write(p)
	h.sha1.Write(p)
	h.sha256.Write(p)
	h.sha512.Write(p)
	h.size += int64(len(p))
	return len(p), nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// putPackage streams a .deb to S3 under a temporary key while hashing it and
// parsing its control file from the same stream, so memory stays bounded
// whatever the size. Only a body whose SHA-256 matches the path and that
// parses as a .deb is kept, at its content-addressed key.
func (s *Server) putPackage(c echo.Context) error {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	sum, err := sha256Param(c)
	if err != nil {
		return err
	}
	if p, err := s.store.PackageBySHA256(ctx, tenant.ID, sum); err == nil {
		return c.JSON(http.StatusOK, packageResponse(p))
	}
	req := c.Request()
	body, release, err := s.admitUpload(c, tenant.ID)
	if err != nil {
		return err
	}
	defer release()

	// The parser reads the stream as it goes to S3. When it finds the
	// package invalid, the upload stops at once: the rest of the body is
	// neither read nor stored (net/http drains up to 256 KiB of it, so that
	// the client reads the answer rather than a reset connection, and
	// closes the connection past that).
	putCtx, cancelPut := context.WithCancelCause(ctx)
	defer cancelPut(nil)
	hs := newHashes()
	pr, pw := io.Pipe()
	parsed := make(chan parseResult, 1)
	go func() {
		ctl, files, err := apt.ReadDebFiles(pr)
		if errors.Is(err, apt.ErrInvalidPackage) {
			pr.CloseWithError(err)
			cancelPut(err)
		}
		parsed <- parseResult{ctl, files, err}
	}()
	tee := io.TeeReader(body, io.MultiWriter(hs, pw))

	tmpKey := store.UploadKey(tenant.ID, sum, randomSuffix())
	size := req.ContentLength
	if size <= 0 {
		size = -1
	}
	// The parser's verdict, read once: before the object is created (the
	// whole body has been read by then), so that a refused package never
	// lands under _uploads/, not even briefly; or after a failed Put.
	var (
		verdictOnce sync.Once
		res         parseResult
	)
	verdict := func(putErr error) parseResult {
		verdictOnce.Do(func() {
			pw.CloseWithError(putErr) // EOF for the parser, unless the Put failed
			res = <-parsed
		})
		return res
	}
	_, putErr := s.blob.Put(putCtx, tmpKey, tee, size, blob.PutOptions{ContentType: "application/vnd.debian.binary-package",
		BeforeCommit: func() error { return verdict(nil).err }})
	res = verdict(putErr)

	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = s.blob.Delete(ctx, tmpKey)
	}
	switch {
	case body.err != nil:
		cleanup()
		return body.bodyError(s.cfg.MaxUploadBytes, s.cfg.MinUploadRate)
	case errors.Is(res.err, apt.ErrInvalidPackage):
		cleanup()
		return res.err
	case putErr != nil:
		cleanup()
		return fmt.Errorf("store upload: %w", putErr)
	case hexSum(hs.sha256) != sum:
		cleanup()
		e := store.Errorf(wire.CodeChecksumMismatch, "the body's SHA-256 is %s, not %s", hexSum(hs.sha256), sum)
		e.Details = map[string]any{"expected": sum, "actual": hexSum(hs.sha256)}
		return e
	case res.err != nil:
		cleanup()
		return res.err
	}
	defer cleanup()

	key := store.PackageBlobKey(tenant.ID, sum)
	if _, err := s.blob.Copy(ctx, tmpKey, key); err != nil {
		return fmt.Errorf("store package: %w", err)
	}
	fileCount := len(res.files)
	p, created, err := s.store.InsertPackage(ctx, store.Package{TenantID: tenant.ID, SHA256: sum,
		SHA512: hexSum(hs.sha512), SHA1: hexSum(hs.sha1), MD5: hexSum(hs.md5), Size: hs.size,
		Name: res.ctl.Package, Version: res.ctl.Version, Architecture: res.ctl.Architecture,
		Source: res.ctl.Source, Control: res.ctl.Paragraph.String(),
		FileList: apt.EncodeFileList(res.files), FileCount: &fileCount})
	if err != nil {
		if store.ErrorCode(err) == wire.CodeQuotaExceeded {
			_ = s.blob.Delete(context.WithoutCancel(ctx), key)
		}
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, packageResponse(p))
}

type parseResult struct {
	ctl   *apt.Control
	files []string // data.tar's file list, for Contents indices
	err   error
}

func tooLarge(limit int64) error {
	e := store.Errorf(wire.CodeTooLarge, "package larger than the server's limit of %d bytes", limit)
	e.Details = map[string]any{"limit": strconv.FormatInt(limit, 10)}
	return e
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
