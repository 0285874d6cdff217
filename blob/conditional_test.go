package blob_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
	"github.com/stretchr/testify/require"
)

// TestConditionalPut pins down what the S3 server answers to each conditional
// write, single-part and multipart (the condition then applies to
// CompleteMultipartUpload); the message keeps the status for the record.
func TestConditionalPut(t *testing.T) {
	t.Parallel()
	s, prefix := blobtest.New(t)
	big := bytes.Repeat([]byte("m"), 9<<20) // over one 8 MiB part: a multipart upload

	tests := []struct {
		name    string
		exists  bool // put "old" under the key first
		opts    func(oldETag string) blob.PutOptions
		wantErr error
		status  string // in the error message
	}{
		{name: "IfNoneMatch new key", opts: func(string) blob.PutOptions { return blob.PutOptions{IfNoneMatch: true} }},
		{name: "IfNoneMatch existing key", exists: true, opts: func(string) blob.PutOptions { return blob.PutOptions{IfNoneMatch: true} },
			wantErr: blob.ErrPrecondition, status: "HTTP 412 PreconditionFailed"},
		{name: "IfMatch current ETag", exists: true, opts: func(e string) blob.PutOptions { return blob.PutOptions{IfMatch: e} }},
		{name: "IfMatch quoted current ETag", exists: true, opts: func(e string) blob.PutOptions { return blob.PutOptions{IfMatch: `"` + e + `"`} }},
		{name: "IfMatch stale ETag", exists: true, opts: func(string) blob.PutOptions { return blob.PutOptions{IfMatch: md5hex([]byte("stale"))} },
			wantErr: blob.ErrPrecondition, status: "HTTP 412 PreconditionFailed"},
		{name: "IfMatch missing key", opts: func(string) blob.PutOptions { return blob.PutOptions{IfMatch: md5hex([]byte("old"))} },
			wantErr: blob.ErrPrecondition, status: "HTTP 404 NoSuchKey"},
	}
	for _, tt := range tests {
		for _, size := range []int{len("new"), len(big)} {
			t.Run(fmt.Sprintf("%s/%d bytes", tt.name, size), func(t *testing.T) {
				t.Parallel()
				key := fmt.Sprintf("%s%s/%d", prefix, strings.ReplaceAll(tt.name, " ", "_"), size)
				oldETag := ""
				if tt.exists {
					oldETag = put(t, s, key, "old").ETag
				}
				content := []byte("new")
				if size == len(big) {
					content = big
				}
				// Size -1 streams: a multipart upload for the big body.
				_, err := s.Put(t.Context(), key, bytes.NewReader(content), -1, tt.opts(oldETag))
				data, _, getErr := s.Get(t.Context(), key, "")
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
					require.ErrorContains(t, err, tt.status)
					if tt.exists {
						require.NoError(t, getErr)
						_, info := get(t, s, key)
						require.Equal(t, oldETag, info.ETag, "a lost conditional write leaves the object alone")
					} else {
						require.ErrorIs(t, getErr, blob.ErrNotFound)
					}
					return
				}
				require.NoError(t, err)
				require.NoError(t, getErr)
				require.NoError(t, data.Close())
				got, _ := get(t, s, key)
				require.Equal(t, content, got)
			})
		}
	}

	_, err := s.Put(t.Context(), prefix+"both", strings.NewReader("x"), 1, blob.PutOptions{IfNoneMatch: true, IfMatch: "abc"})
	require.Error(t, err)
	require.NotErrorIs(t, err, blob.ErrPrecondition)
}

// TestConditionalPutRace is the property G1 rests on: of many writers that
// replace InRelease conditionally on the same ETag, exactly one wins.
func TestConditionalPutRace(t *testing.T) {
	t.Parallel()
	s, prefix := blobtest.New(t)
	const writers = 16

	tests := []struct {
		name   string
		exists bool
		opts   func(oldETag string) blob.PutOptions
	}{
		{name: "IfMatch", exists: true, opts: func(e string) blob.PutOptions { return blob.PutOptions{IfMatch: e} }},
		{name: "IfNoneMatch", opts: func(string) blob.PutOptions { return blob.PutOptions{IfNoneMatch: true} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for round := range 5 {
				key := fmt.Sprintf("%s%s/%d/InRelease", prefix, tt.name, round)
				oldETag := ""
				if tt.exists {
					oldETag = put(t, s, key, "generation 1").ETag
				}

				var (
					wg     sync.WaitGroup
					start  = make(chan struct{})
					errs   = make([]error, writers)
					bodies = make([]string, writers)
				)
				for i := range writers {
					bodies[i] = fmt.Sprintf("generation 2 by writer %d", i)
					wg.Go(func() {
						<-start
						_, errs[i] = s.Put(t.Context(), key, strings.NewReader(bodies[i]), int64(len(bodies[i])), tt.opts(oldETag))
					})
				}
				close(start)
				wg.Wait()

				winner := -1
				for i, err := range errs {
					if err == nil {
						require.Equal(t, -1, winner, "two writers won: %d and %d", winner, i)
						winner = i
						continue
					}
					require.ErrorIs(t, err, blob.ErrPrecondition)
				}
				require.NotEqual(t, -1, winner, "nobody won: %v", errors.Join(errs...))
				got, _ := get(t, s, key)
				require.Equal(t, bodies[winner], string(got))
			}
		})
	}
}
