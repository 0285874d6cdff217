// Package blob stores objects in an S3-compatible bucket: the .deb pool, the
// index files and the signed Release files of aptq's repositories.
//
// Blob is the narrow interface the API and the worker use; S3 implements it
// with aws-sdk-go-v2. The conditional writes (PutOptions.IfNoneMatch and
// IfMatch) are what keeps a worker that lost its lease from replacing InRelease
// (DESIGN.md G1): a conditional write that loses fails with ErrPrecondition.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

var (
	// ErrNotFound: the key (or, from Ping, the bucket) does not exist.
	ErrNotFound = errors.New("blob: not found")
	// ErrPrecondition: a conditional Put lost, i.e. someone else wrote the key
	// first (or, from Copy, the source changed during the copy). S3 answers 412
	// Precondition Failed, 409 ConditionalRequestConflict when two conditional
	// writes race, and versitygw 404 NoSuchKey for If-Match on a missing key;
	// all three mean the same to aptq.
	//
	// Conditional writes are made exactly once (no automatic retry), so that
	// ErrPrecondition never hides our own earlier attempt. A caller that retries
	// after an ambiguous failure (timeout, reset connection) and then gets
	// ErrPrecondition should Head the key: for a single-part Put the ETag is the
	// MD5 of the content, so an ETag equal to the MD5 of its body means its
	// earlier attempt won.
	ErrPrecondition = errors.New("blob: precondition failed")
	// ErrNotModified: a conditional Open (GetOptions.IfNoneMatch or
	// IfModifiedSince) found the object unchanged; S3 answered 304.
	ErrNotModified = errors.New("blob: not modified")
	// ErrRange: an Open's range lies outside the object; S3 answered 416.
	ErrRange = errors.New("blob: range not satisfiable")
)

// Info describes a stored object.
type Info struct {
	Key  string
	Size int64 // the whole object's size, also for a range Get
	// ETag without quotes. For a single-part Put it is the hex MD5 of the content
	// (on AWS only without SSE-KMS); a multipart upload's ETag is "<md5>-<parts>".
	ETag         string
	LastModified time.Time // zero after Put: S3's PutObject response does not carry it
	ContentType  string    // empty in List results: ListObjectsV2 does not carry it
	CacheControl string    // as stored by Put; empty in List results
	// ContentRange is S3's Content-Range of a range Open ("bytes 0-99/1234"),
	// else empty.
	ContentRange string
}

// PutOptions makes a Put conditional and sets the object's content type.
// IfNoneMatch and IfMatch exclude each other.
type PutOptions struct {
	// IfNoneMatch creates the object only if the key does not exist yet
	// (If-None-Match: *). For immutable, content-addressed objects and the first
	// InRelease of a release.
	IfNoneMatch bool
	// IfMatch replaces the object only if its current ETag is this one (quotes
	// optional), i.e. if nobody wrote it since we last saw it.
	IfMatch     string
	ContentType string
	// SHA256 is the hex SHA-256 of a body the caller has hashed already (an
	// index file, whose digests the Release lists). A single-request Put is
	// signed with it instead of reading the body once more to hash it, and S3
	// still rejects a body that does not match it.
	SHA256 string
	// BeforeCommit, if set, is called once the whole body has been read and
	// before the object is created (its single PUT is sent, or its multipart
	// upload completed); an error from it abandons the Put, which stores
	// nothing. A caller that checks the stream as it goes (an upload being
	// parsed) uses it so that a body it refuses never becomes an object, not
	// even for a moment.
	BeforeCommit func() error
	// CacheControl is stored with the object and sent with every GET of it,
	// for a CDN or proxy in front of the bucket (docs/design.md, S3 layout).
	CacheControl string
}

// GetOptions makes an Open a range or conditional read; S3 evaluates them,
// so a reader that passes a client's headers through needs no Head first.
type GetOptions struct {
	// Range is an HTTP range such as "bytes=0-99"; "" for the whole object.
	Range string
	// IfNoneMatch is a client's If-None-Match header, passed as it is.
	IfNoneMatch string
	// IfModifiedSince, if not zero, is a client's If-Modified-Since.
	IfModifiedSince time.Time
}

// Blob is the object store as aptq uses it. Keys are full object keys, the
// repository prefix included. Implementations are safe for concurrent use.
type Blob interface {
	// Put stores size bytes read from body under key; size -1 means unknown.
	// Put never holds the whole body in memory. A seekable body (io.ReadSeeker,
	// e.g. *os.File or *bytes.Reader) of known size goes out in one request.
	// Any other body is read in parts of a few MiB, at most a few parts at a
	// time, and uploaded as a multipart upload (one request if it fits in one
	// part). The object appears only once the whole body is stored.
	Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (Info, error)
	// Get opens key for reading; byteRange is "" for the whole object or an
	// HTTP range such as "bytes=0-99". The caller closes the body.
	Get(ctx context.Context, key string, byteRange string) (io.ReadCloser, Info, error)
	// Open is Get with conditions: an unchanged object is ErrNotModified,
	// a range that cannot be satisfied is ErrRange.
	Open(ctx context.Context, key string, opts GetOptions) (io.ReadCloser, Info, error)
	// Head returns key's metadata.
	Head(ctx context.Context, key string) (Info, error)
	// Copy copies srcKey to dstKey within the bucket, server-side.
	Copy(ctx context.Context, srcKey, dstKey string) (Info, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every object whose key starts with prefix, in key
	// order; an error from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Ping checks that the bucket is reachable, for readiness probes.
	Ping(ctx context.Context) error
}
