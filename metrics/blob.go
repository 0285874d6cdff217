package metrics

import (
	"context"
	"errors"
	"io"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aptq/aptq/blob"
)

// blobOps are the S3 operations counted, a fixed label set.
var blobOps = []string{"put", "get", "open", "head", "copy", "delete", "list", "ping"}

func newS3Errors() *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aptq_s3_errors_total",
		Help: "S3 requests that failed, by operation (answers that are part of the protocol — not found, precondition failed, not modified, range — and cancellations are not errors).",
	}, []string{"op"})
	for _, op := range blobOps {
		v.WithLabelValues(op) // every series exists from the start, so a rate over it is defined
	}
	return v
}

// Blob returns b counting its failed requests in aptq_s3_errors_total.
// With a nil *Metrics it returns b.
func (m *Metrics) Blob(b blob.Blob) blob.Blob {
	if m == nil {
		return b
	}
	return &countingBlob{Blob: b, errs: m.s3Errors}
}

type countingBlob struct {
	blob.Blob
	errs *prometheus.CounterVec
}

var _ blob.Blob = (*countingBlob)(nil)

// count counts err under op unless it is an expected answer.
func (c *countingBlob) count(op string, err error) {
	if err == nil || errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrPrecondition) ||
		errors.Is(err, blob.ErrNotModified) || errors.Is(err, blob.ErrRange) ||
		errors.Is(err, context.Canceled) {
		return
	}
	c.errs.WithLabelValues(op).Inc()
}

func (c *countingBlob) Put(ctx context.Context, key string, body io.Reader, size int64, opts blob.PutOptions) (blob.Info, error) {
	info, err := c.Blob.Put(ctx, key, body, size, opts)
	c.count("put", err)
	return info, err
}

func (c *countingBlob) Get(ctx context.Context, key, byteRange string) (io.ReadCloser, blob.Info, error) {
	r, info, err := c.Blob.Get(ctx, key, byteRange)
	c.count("get", err)
	return r, info, err
}

func (c *countingBlob) Open(ctx context.Context, key string, opts blob.GetOptions) (io.ReadCloser, blob.Info, error) {
	r, info, err := c.Blob.Open(ctx, key, opts)
	c.count("open", err)
	return r, info, err
}

func (c *countingBlob) Head(ctx context.Context, key string) (blob.Info, error) {
	info, err := c.Blob.Head(ctx, key)
	c.count("head", err)
	return info, err
}

func (c *countingBlob) Copy(ctx context.Context, srcKey, dstKey string) (blob.Info, error) {
	info, err := c.Blob.Copy(ctx, srcKey, dstKey)
	c.count("copy", err)
	return info, err
}

func (c *countingBlob) Delete(ctx context.Context, key string) error {
	err := c.Blob.Delete(ctx, key)
	c.count("delete", err)
	return err
}

func (c *countingBlob) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	var fnErr error // the caller's own error stops the listing: not S3's
	err := c.Blob.List(ctx, prefix, func(info blob.Info) error { fnErr = fn(info); return fnErr })
	if fnErr == nil {
		c.count("list", err)
	}
	return err
}

func (c *countingBlob) Ping(ctx context.Context) error {
	err := c.Blob.Ping(ctx)
	c.count("ping", err)
	return err
}
