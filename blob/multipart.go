package blob

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// putMultipart streams body to key in parts. It holds at most partsInFlight+1
// part buffers, whatever the body's length; a body that fits in one part goes
// out as a single PutObject from memory instead. Buffers grow as the body
// arrives, never to a size the body only declares: a client that announces
// a large upload and sends a few bytes costs a few bytes. The conditions in
// opts apply to the completion of the upload, so a lost race costs the
// upload but never replaces the object.
func (s *S3) putMultipart(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (Info, error) {
	partSize := s.partSize
	if size > 0 {
		partSize = max(partSize, (size+maxParts-1)/maxParts)
	}
	first, err := fill(body, nil, int(partSize))
	switch {
	case err == io.EOF, err == nil && int64(len(first)) == size:
		if size >= 0 && int64(len(first)) != size {
			return Info{}, fmt.Errorf("put %q: body has %d bytes, expected %d", key, len(first), size)
		}
		return s.Put(ctx, key, bytes.NewReader(first), int64(len(first)), opts)
	case err != nil:
		return Info{}, fmt.Errorf("put %q: read body: %w", key, err)
	}

	create := &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &key}
	setContentType(&create.ContentType, opts.ContentType)
	setContentType(&create.CacheControl, opts.CacheControl)
	created, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return Info{}, fmt.Errorf("put %q: start multipart upload: %w", key, err)
	}
	info, err := s.finishMultipart(ctx, key, created.UploadId, body, first, size, opts)
	if err != nil {
		if abortErr := s.abort(ctx, key, created.UploadId); abortErr != nil {
			err = errors.Join(err, abortErr)
		}
		return Info{}, fmt.Errorf("put %q: %w", key, err)
	}
	return info, nil
}

// finishMultipart uploads the parts, first of them first, and completes the upload.
func (s *S3) finishMultipart(ctx context.Context, key string, uploadID *string, body io.Reader, first []byte,
	size int64, opts PutOptions) (Info, error) {
	parts, total, err := s.uploadParts(ctx, key, uploadID, body, first)
	if err != nil {
		return Info{}, err
	}
	if size >= 0 && total != size {
		return Info{}, fmt.Errorf("body has %d bytes, expected %d", total, size)
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             &key,
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	setConditions(&in.IfNoneMatch, &in.IfMatch, opts)
	var optFns []func(*s3.Options)
	if conditional(opts) {
		optFns = append(optFns, once)
	}
	if opts.BeforeCommit != nil {
		if err := opts.BeforeCommit(); err != nil {
			return Info{}, err
		}
	}
	out, err := s.client.CompleteMultipartUpload(ctx, in, optFns...)
	if err != nil {
		return Info{}, fmt.Errorf("complete multipart upload: %w", putError(err, opts))
	}
	return Info{Key: key, Size: total, ETag: unquote(out.ETag), ContentType: opts.ContentType}, nil
}

// uploadParts reads body part by part and uploads up to partsInFlight parts at
// once. A part's buffer is reused once its upload is done, so memory stays at
// partsInFlight+1 buffers of at most len(first) bytes.
func (s *S3) uploadParts(ctx context.Context, key string, uploadID *string, body io.Reader, first []byte) (
	[]types.CompletedPart, int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, gctx := errgroup.WithContext(ctx)

	// Buffers to fill (nil: not allocated yet). Room for all of them, so a
	// finishing upload never blocks returning its buffer.
	free := make(chan []byte, partsInFlight+1)
	for range partsInFlight {
		free <- nil
	}
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		total int64
	)
	upload := func(num int32, part []byte) {
		g.Go(func() error {
			defer func() { free <- part }()
			out, err := s.client.UploadPart(gctx, &s3.UploadPartInput{
				Bucket:        &s.bucket,
				Key:           &key,
				UploadId:      uploadID,
				PartNumber:    aws.Int32(num),
				Body:          bytes.NewReader(part),
				ContentLength: aws.Int64(int64(len(part))),
			})
			if err != nil {
				return fmt.Errorf("upload part %d: %w", num, err)
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
			mu.Unlock()
			return nil
		})
	}

	buf := first
	partSize := len(first)
	var readErr error
	for num := int32(1); ; num++ {
		if num > maxParts {
			readErr = fmt.Errorf("body needs more than %d parts of %d bytes", maxParts, partSize)
			break
		}
		upload(num, buf)
		total += int64(len(buf))
		if len(buf) < partSize {
			break // a short part is the last one
		}
		select {
		case buf = <-free:
		case <-gctx.Done():
			readErr = context.Cause(gctx)
		}
		if readErr != nil {
			break
		}
		if buf == nil {
			// The body has filled a whole part already: a second costs at
			// most what the client sent, and growing it would leave garbage.
			buf = make([]byte, 0, partSize)
		}
		var err error
		buf, err = fill(body, buf, partSize)
		if err != nil && err != io.EOF {
			readErr = fmt.Errorf("read body: %w", err)
			break
		}
		if len(buf) == 0 {
			break // nothing left: the previous part was the last one
		}
	}
	if readErr != nil {
		// Stop the uploads in flight: the upload is aborted anyway, and their
		// errors are now only echoes of the cancellation.
		cancel(readErr)
		_ = g.Wait()
		return nil, 0, readErr
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return cmp.Compare(*a.PartNumber, *b.PartNumber) })
	return parts, total, nil
}

// abort removes a failed multipart upload's parts. It runs on a context of its
// own because the caller's may be the reason the upload failed.
func (s *S3) abort(ctx context.Context, key string, uploadID *string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: uploadID,
	})
	if err != nil {
		return fmt.Errorf("abort multipart upload: %w", err)
	}
	return nil
}

// fill reads up to n bytes of r into buf's storage, growing it (by doubling)
// only as bytes arrive. It returns io.EOF, with what it read, when r ends
// before n bytes.
func fill(r io.Reader, buf []byte, n int) ([]byte, error) {
	buf = buf[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(cap(buf), minGrow), n-len(buf)))
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// minGrow is the first allocation of fill, about what one read of a
// network connection returns.
const minGrow = 32 << 10
