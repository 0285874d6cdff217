package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// putFile stores a file of a source package (a tarball, a diff, an upstream
// signature) under its SHA-256, streamed to S3 while it is hashed, as
// putPackage does with a .deb; the server reads nothing in it, since the
// .dsc that lists it (putSource) says what it must be.
func (s *Server) putFile(c echo.Context) error {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	sum, err := sha256Param(c)
	if err != nil {
		return err
	}
	if f, err := s.store.UploadedFileBySHA256(ctx, tenant.ID, sum); err == nil {
		return c.JSON(http.StatusOK, wire.FileResponse{SHA256: f.SHA256, Size: f.Size})
	}
	req := c.Request()
	body, release, err := s.admitUpload(c, tenant.ID)
	if err != nil {
		return err
	}
	defer release()
	hs := newHashes()
	tmpKey := store.UploadKey(tenant.ID, sum, randomSuffix())
	size := req.ContentLength
	if size <= 0 {
		size = -1
	}
	// The digest is checked before the object is created: a body that is
	// not what its path says never lands, not even under _uploads/.
	_, putErr := s.blob.Put(ctx, tmpKey, io.TeeReader(body, hs), size, blob.PutOptions{
		BeforeCommit: func() error { return checkDigest(sum, hexSum(hs.sha256)) }})
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = s.blob.Delete(ctx, tmpKey)
	}
	defer cleanup()
	var mismatch *store.Error
	switch {
	case body.err != nil:
		return body.bodyError(s.cfg.MaxUploadBytes, s.cfg.MinUploadRate)
	case errors.As(putErr, &mismatch):
		return mismatch
	case putErr != nil:
		return fmt.Errorf("store upload: %w", putErr)
	}
	if _, err := s.blob.Copy(ctx, tmpKey, store.PackageBlobKey(tenant.ID, sum)); err != nil {
		return fmt.Errorf("store file: %w", err)
	}
	created, err := s.store.InsertUploadedFile(ctx, store.UploadedFile{TenantID: tenant.ID, SHA256: sum,
		SHA512: hexSum(hs.sha512), SHA1: hexSum(hs.sha1), MD5: hexSum(hs.md5), Size: hs.size})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, wire.FileResponse{SHA256: sum, Size: hs.size})
}

// checkDigest is the checksum_mismatch of a body whose SHA-256 is not the
// one its path gives.
func checkDigest(want, got string) error {
	if want == got {
		return nil
	}
	e := store.Errorf(wire.CodeChecksumMismatch, "the body's SHA-256 is %s, not %s", got, want)
	e.Details = map[string]any{"expected": want, "actual": got}
	return e
}

// putSource accepts a source package: the body is its .dsc, clearsigned or
// not, kept byte for byte; every file it lists must have been uploaded
// (putFile) with the size and every digest the .dsc gives, else a 422
// names the file. The source is then a package of architecture "source"
// that a change adds like a .deb.
func (s *Server) putSource(c echo.Context) error {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	sum, err := sha256Param(c)
	if err != nil {
		return err
	}
	if p, err := s.store.PackageBySHA256(ctx, tenant.ID, sum); err == nil {
		return c.JSON(http.StatusOK, packageResponse(p))
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, apt.MaxDSCSize))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return tooLarge(apt.MaxDSCSize)
	}
	if err != nil {
		return store.Errorf(wire.CodeIncompleteBody, "the request body ended early: %v", err)
	}
	digest := sha256.Sum256(data)
	if err := checkDigest(sum, hex.EncodeToString(digest[:])); err != nil {
		return err
	}
	d, err := apt.ParseDSC(data)
	if err != nil {
		return err
	}
	files := make([]store.SourceFile, len(d.Files))
	for i, f := range d.Files {
		if err := s.checkSourceFile(ctx, tenant.ID, f); err != nil {
			return err
		}
		files[i] = store.SourceFile{Name: f.Name, SHA256: f.SHA256, MD5: f.MD5, Size: f.Size}
	}
	if _, err := s.blob.Put(ctx, store.PackageBlobKey(tenant.ID, sum), bytes.NewReader(data), int64(len(data)),
		blob.PutOptions{SHA256: sum}); err != nil {
		return fmt.Errorf("store .dsc: %w", err)
	}
	p, created, err := s.store.InsertSource(ctx, store.Package{TenantID: tenant.ID, SHA256: sum,
		SHA512: d.Self.SHA512, SHA1: d.Self.SHA1, MD5: d.Self.MD5, Size: d.Self.Size, Name: d.Source,
		Version: d.Version, Architecture: apt.ArchSource, Source: d.Source, Control: apt.SourceControl(d).String()}, files)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, packageResponse(p))
}

// checkSourceFile checks that the tenant uploaded the file a .dsc lists,
// with every digest the .dsc gives.
func (s *Server) checkSourceFile(ctx context.Context, tenantID int64, f apt.SourceFile) error {
	u, err := s.store.UploadedFileBySHA256(ctx, tenantID, f.SHA256)
	if errors.Is(err, store.ErrNotFound) {
		e := store.Errorf(wire.CodeMissingFile, "%s (SHA-256 %s), which the .dsc lists, was not uploaded", f.Name, f.SHA256)
		e.Details = map[string]any{"file": f.Name, "sha256": f.SHA256}
		return e
	}
	if err != nil {
		return err
	}
	got := apt.SourceFile{Name: f.Name, Size: u.Size, MD5: u.MD5, SHA1: u.SHA1, SHA256: u.SHA256, SHA512: u.SHA512}
	if f.Size != got.Size || f.MD5 != got.MD5 || (f.SHA1 != "" && f.SHA1 != got.SHA1) || (f.SHA512 != "" && f.SHA512 != got.SHA512) {
		e := store.Errorf(wire.CodeChecksumMismatch, "%s: the uploaded file (%d bytes, MD5 %s) is not what the .dsc lists (%d bytes, MD5 %s)",
			f.Name, got.Size, got.MD5, f.Size, f.MD5)
		e.Details = map[string]any{"file": f.Name, "sha256": f.SHA256}
		return e
	}
	return nil
}

// checkChangesFile checks the changes_file of a change request: the
// SHA-256 of a file this tenant uploaded.
func (s *Server) checkChangesFile(c echo.Context, sum string) error {
	if !sha256Re.MatchString(sum) {
		return invalidField("changes_file", "%q is not a lowercase hex SHA-256", truncateText(sum))
	}
	_, err := s.store.UploadedFileBySHA256(c.Request().Context(), tenantOf(c).ID, sum)
	if errors.Is(err, store.ErrNotFound) {
		e := store.Errorf(wire.CodeMissingFile, "the .changes %s was not uploaded", sum)
		e.Details = map[string]any{"field": "changes_file", "sha256": sum}
		return e
	}
	return err
}
