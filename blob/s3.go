package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/httpbinding"
	"github.com/aws/smithy-go/middleware"
)

const (
	// defaultPartSize is the multipart part size: the unit of memory a streaming
	// Put holds per part, and 10,000 parts of it (S3's limit) cap an upload of
	// unknown length at 78 GiB.
	defaultPartSize = 8 << 20
	// partsInFlight is how many parts upload at once; one more is being filled
	// from the body, so a streaming Put holds at most (partsInFlight+1) parts.
	partsInFlight = 3
	// maxParts is S3's limit on parts in one multipart upload.
	maxParts = 10000
	// maxSinglePut is S3's limit on a single PutObject (5 GiB).
	maxSinglePut = 5 << 30
	// maxAttempts bounds the SDK's standard retryer (5xx, throttling, timeouts)
	// for requests that are safe to repeat.
	maxAttempts = 4
	// abortTimeout bounds the clean-up of a failed multipart upload, which runs
	// even when the caller's context is already cancelled.
	abortTimeout = 30 * time.Second
)

// transientCodes are errors that S3-compatible servers return for a race of
// their own, which a repeat of the request does not meet: versitygw's posix
// backend answers ExistingObjectIsDirectory to a write under a prefix whose
// directory a concurrent delete of that prefix's last object is removing
// (seen for about 1 in 400 of 20 000 parallel package uploads, each of
// which then failed).
var transientCodes = []string{"ExistingObjectIsDirectory"}

// retryer is the SDK's standard retryer (5xx, throttling, timeouts) for
// requests that are safe to repeat, and transientCodes.
func retryer() aws.Retryer {
	return retry.AddWithErrorCodes(retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
	}), transientCodes...)
}

// Config says where the bucket is and how to sign requests.
type Config struct {
	// Endpoint is the S3 server's base URL, e.g. http://127.0.0.1:57070; empty
	// means AWS S3's regional endpoint. Requests use path-style addressing.
	Endpoint  string
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	// PartSize is the multipart part size in bytes; 0 means 8 MiB. S3 needs at
	// least 5 MiB for every part but the last.
	PartSize int64
}

// S3 is a Blob on an S3-compatible server. It holds one HTTP client whose
// connections are reused by all calls; it is safe for concurrent use.
type S3 struct {
	client   *s3.Client
	bucket   string
	partSize int64
}

var _ Blob = (*S3)(nil)

// NewS3 makes an S3 client for cfg. It does not contact the server (use Ping),
// so a process can start while S3 is briefly unavailable. ctx is not used yet;
// it is there for credential providers that need I/O to start.
func NewS3(ctx context.Context, cfg Config) (*S3, error) {
	switch {
	case cfg.Bucket == "":
		return nil, errors.New("new S3 blob store: no bucket")
	case cfg.Region == "":
		return nil, errors.New("new S3 blob store: no region")
	case cfg.AccessKey == "" || cfg.SecretKey == "":
		return nil, errors.New("new S3 blob store: no access key or secret key")
	case cfg.PartSize != 0 && cfg.PartSize < 5<<20:
		return nil, fmt.Errorf("new S3 blob store: part size %d is below S3's minimum of 5 MiB", cfg.PartSize)
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = defaultPartSize
	}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		// Uploads of a round run in parallel against one host; the default of 2
		// idle connections per host would make most of them reconnect.
		t.MaxIdleConns = 128
		t.MaxIdleConnsPerHost = 64
	})
	opts := s3.Options{
		Region:       cfg.Region,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")),
		UsePathStyle: true,
		HTTPClient:   httpClient,
		Retryer:      retryer(),
		// The SDK's default (WhenSupported) adds CRC checksums to every upload; over
		// plain HTTP it refuses unseekable bodies, and several S3-compatible servers
		// mishandle the trailers it uses over HTTPS. Integrity comes from the
		// SigV4 payload hash of seekable bodies and parts instead.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	return &S3{client: s3.New(opts), bucket: cfg.Bucket, partSize: partSize}, nil
}

// Put implements Blob.
func (s *S3) Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (Info, error) {
	if opts.IfNoneMatch && opts.IfMatch != "" {
		return Info{}, fmt.Errorf("put %q: IfNoneMatch and IfMatch exclude each other", key)
	}
	rs, seekable := body.(io.ReadSeeker)
	if !seekable || size < 0 || size > maxSinglePut {
		return s.putMultipart(ctx, key, body, size, opts)
	}
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          rs,
		ContentLength: aws.Int64(size),
	}
	setContentType(&in.ContentType, opts.ContentType)
	setContentType(&in.CacheControl, opts.CacheControl)
	setConditions(&in.IfNoneMatch, &in.IfMatch, opts)
	var optFns []func(*s3.Options)
	if conditional(opts) {
		optFns = append(optFns, once)
	}
	if opts.SHA256 != "" {
		optFns = append(optFns, payloadHash(opts.SHA256))
	}
	if opts.BeforeCommit != nil {
		if err := opts.BeforeCommit(); err != nil {
			return Info{}, fmt.Errorf("put %q: %w", key, err)
		}
	}
	out, err := s.client.PutObject(ctx, in, optFns...)
	if err != nil {
		return Info{}, fmt.Errorf("put %q: %w", key, putError(err, opts))
	}
	return Info{Key: key, Size: size, ETag: unquote(out.ETag), ContentType: opts.ContentType}, nil
}

// Get implements Blob.
func (s *S3) Get(ctx context.Context, key string, byteRange string) (io.ReadCloser, Info, error) {
	return s.Open(ctx, key, GetOptions{Range: byteRange})
}

// Open implements Blob.
func (s *S3) Open(ctx context.Context, key string, opts GetOptions) (io.ReadCloser, Info, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if opts.Range != "" {
		in.Range = &opts.Range
	}
	if opts.IfNoneMatch != "" {
		in.IfNoneMatch = &opts.IfNoneMatch
	}
	if !opts.IfModifiedSince.IsZero() {
		in.IfModifiedSince = &opts.IfModifiedSince
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, Info{}, fmt.Errorf("get %q: %w", key, getError(err))
	}
	info := objectInfo(key, out.ContentLength, out.ETag, out.LastModified, out.ContentType, out.CacheControl)
	info.ContentRange = aws.ToString(out.ContentRange)
	// A range answer's ContentLength is the range's; the object's size follows
	// the slash in "bytes 0-99/1234".
	if cr := info.ContentRange; cr != "" {
		_, total, _ := strings.Cut(cr, "/")
		size, err := strconv.ParseInt(total, 10, 64)
		if err != nil {
			out.Body.Close()
			return nil, Info{}, fmt.Errorf("get %q: unexpected Content-Range %q", key, cr)
		}
		info.Size = size
	}
	return out.Body, info, nil
}

// Head implements Blob.
func (s *S3) Head(ctx context.Context, key string) (Info, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return Info{}, fmt.Errorf("head %q: %w", key, readError(err))
	}
	return objectInfo(key, out.ContentLength, out.ETag, out.LastModified, out.ContentType, out.CacheControl), nil
}

// objectInfo is the Info of what GetObject or HeadObject said of key.
func objectInfo(key string, size *int64, etag *string, modified *time.Time, contentType, cacheControl *string) Info {
	return Info{Key: key, Size: aws.ToInt64(size), ETag: unquote(etag), LastModified: aws.ToTime(modified),
		ContentType: aws.ToString(contentType), CacheControl: aws.ToString(cacheControl)}
}

// Copy implements Blob. It copies the version of srcKey it has just read the
// metadata of (CopySourceIfMatch), so the returned Info describes dstKey
// exactly; if srcKey changes in between, Copy fails with ErrPrecondition.
// Sources over 5 GiB are not supported (that needs a multipart copy).
func (s *S3) Copy(ctx context.Context, srcKey, dstKey string) (Info, error) {
	src, err := s.Head(ctx, srcKey)
	if err != nil {
		return Info{}, fmt.Errorf("copy %q to %q: %w", srcKey, dstKey, err)
	}
	out, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &s.bucket,
		Key:    &dstKey,
		// Every byte but unreserved ones and "/" is escaped: versitygw (and AWS)
		// decode the header as a query string, so a bare "+", common in Debian
		// versions, would turn into a space.
		CopySource:        aws.String(s.bucket + "/" + httpbinding.EscapePath(srcKey, false)),
		CopySourceIfMatch: aws.String(quote(src.ETag)),
	})
	if err != nil {
		return Info{}, fmt.Errorf("copy %q to %q: %w", srcKey, dstKey, copyError(err))
	}
	info := src
	info.Key = dstKey
	if r := out.CopyObjectResult; r != nil {
		info.ETag = unquote(r.ETag)
		info.LastModified = aws.ToTime(r.LastModified)
	}
	return info, nil
}

// Delete implements Blob.
func (s *S3) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		// S3 and versitygw answer 204 for a missing key, some S3-compatible
		// servers 404 NoSuchKey; a missing bucket is still an error.
		if _, code := status(err); code == "NoSuchKey" {
			return nil
		}
		return fmt.Errorf("delete %q: %w", key, readError(err))
	}
	return nil
}

// List implements Blob.
func (s *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %q: %w", prefix, readError(err))
		}
		for _, o := range page.Contents {
			err := fn(Info{
				Key:          aws.ToString(o.Key),
				Size:         aws.ToInt64(o.Size),
				ETag:         unquote(o.ETag),
				LastModified: aws.ToTime(o.LastModified),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Ping implements Blob.
func (s *S3) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return fmt.Errorf("ping bucket %q: %w", s.bucket, readError(err))
	}
	return nil
}

// once makes a request a single attempt, for requests that must not repeat.
func once(o *s3.Options) { o.RetryMaxAttempts = 1 }

// payloadHash signs a request with the given payload SHA-256 instead of
// letting the SDK hash the body. The SDK clears context values at the start
// of each operation, so the hash goes in through a middleware placed just
// before the one that would compute it (which then does nothing).
func payloadHash(hexSHA256 string) func(*s3.Options) {
	set := middleware.FinalizeMiddlewareFunc("aptqKnownPayloadHash",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
			middleware.FinalizeOutput, middleware.Metadata, error) {
			return next.HandleFinalize(v4.SetPayloadHash(ctx, hexSHA256), in)
		})
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Insert(set, "ComputePayloadHash", middleware.Before)
		})
	}
}

func conditional(opts PutOptions) bool { return opts.IfNoneMatch || opts.IfMatch != "" }

func setConditions(ifNoneMatch, ifMatch **string, opts PutOptions) {
	if opts.IfNoneMatch {
		*ifNoneMatch = aws.String("*")
	}
	if opts.IfMatch != "" {
		*ifMatch = aws.String(quote(opts.IfMatch))
	}
}

// setContentType sets an optional header (Content-Type, Cache-Control).
func setContentType(dst **string, value string) {
	if value != "" {
		*dst = aws.String(value)
	}
}

// status returns the HTTP status and S3 error code of a failed request.
func status(err error) (int, string) {
	code := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		code = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return code, ae.ErrorCode()
	}
	return code, ""
}

// readError turns a 404 into ErrNotFound.
func readError(err error) error {
	if code, _ := status(err); code == http.StatusNotFound {
		return ErrNotFound
	}
	return err
}

// putError turns the answers that mean "a conditional write lost" into
// ErrPrecondition, keeping the status and code in the message.
func putError(err error, opts PutOptions) error {
	if !conditional(opts) {
		return err
	}
	code, s3code := status(err)
	switch {
	case code == http.StatusPreconditionFailed,
		code == http.StatusConflict,
		// versitygw: If-Match on a missing key. NoSuchBucket/NoSuchUpload stay errors.
		code == http.StatusNotFound && opts.IfMatch != "" && s3code == "NoSuchKey":
		return fmt.Errorf("%w (HTTP %d %s)", ErrPrecondition, code, s3code)
	}
	return err
}

// getError maps a GetObject failure: 404 to ErrNotFound, 304 to
// ErrNotModified, 416 to ErrRange.
func getError(err error) error {
	switch code, _ := status(err); code {
	case http.StatusNotModified:
		return ErrNotModified
	case http.StatusRequestedRangeNotSatisfiable:
		return ErrRange
	}
	return readError(err)
}

func copyError(err error) error {
	if code, _ := status(err); code == http.StatusPreconditionFailed {
		return fmt.Errorf("%w: the source changed during the copy", ErrPrecondition)
	}
	return readError(err)
}

func unquote(etag *string) string { return strings.Trim(aws.ToString(etag), `"`) }

func quote(etag string) string { return `"` + strings.Trim(etag, `"`) + `"` }
