package metrics

import (
	"bytes"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
)

// TestBlobCountsS3Errors runs against the real S3 server: answers that are
// part of the protocol (a missing key, a lost conditional PUT) and the
// caller's own List error are not S3 errors; a refused signature (a wrong
// secret key) is, under its operation.
func TestBlobCountsS3Errors(t *testing.T) {
	t.Parallel()
	m := New()
	s3, prefix := blobtest.New(t)
	b := m.Blob(s3)
	ctx := t.Context()
	_, err := b.Head(ctx, prefix+"missing")
	require.ErrorIs(t, err, blob.ErrNotFound)
	_, err = b.Put(ctx, prefix+"x", bytes.NewReader([]byte("x")), 1, blob.PutOptions{IfNoneMatch: true})
	require.NoError(t, err)
	_, err = b.Put(ctx, prefix+"x", bytes.NewReader([]byte("y")), 1, blob.PutOptions{IfNoneMatch: true})
	require.ErrorIs(t, err, blob.ErrPrecondition)
	stop := errors.New("enough")
	require.ErrorIs(t, b.List(ctx, prefix, func(blob.Info) error { return stop }), stop)
	require.Zero(t, s3ErrorsTotal(m))

	cfg := blobtest.Config(t)
	cfg.SecretKey = "wrong"
	bad, err := blob.NewS3(ctx, cfg)
	require.NoError(t, err)
	_, err = m.Blob(bad).Head(ctx, prefix+"x")
	require.Error(t, err)
	require.Equal(t, 1.0, testutil.ToFloat64(m.s3Errors.WithLabelValues("head")))
	require.Equal(t, 1.0, s3ErrorsTotal(m))
	require.Equal(t, len(blobOps), testutil.CollectAndCount(m.s3Errors), "every operation's series exists")
}

func s3ErrorsTotal(m *Metrics) float64 {
	var n float64
	for _, op := range blobOps {
		n += testutil.ToFloat64(m.s3Errors.WithLabelValues(op))
	}
	return n
}
