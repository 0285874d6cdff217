package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// uploadRetryAfter is what a refused upload is told to wait: about the time
// a typical package takes to upload.
const uploadRetryAfter = 5 * time.Second

// uploadSlots bounds the uploads in flight in this process, in all and per
// tenant: each holds a connection, a part buffer and a decompressor, and one
// tenant's CI must not take every slot.
type uploadSlots struct {
	mu        sync.Mutex
	max       int
	perTenant int
	inFlight  int
	byTenant  map[int64]int
}

func newUploadSlots(maxUploads, perTenant int) *uploadSlots {
	return &uploadSlots{max: maxUploads, perTenant: perTenant, byTenant: map[int64]int{}}
}

// acquire takes a slot for tenant, or returns a too_many_uploads error.
func (u *uploadSlots) acquire(tenant int64) (release func(), err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.byTenant[tenant] >= u.perTenant:
		return nil, tooManyUploads("tenant", u.perTenant)
	case u.inFlight >= u.max:
		return nil, tooManyUploads("server", u.max)
	}
	u.inFlight++
	u.byTenant[tenant]++
	var once sync.Once
	return func() {
		once.Do(func() {
			u.mu.Lock()
			defer u.mu.Unlock()
			u.inFlight--
			if u.byTenant[tenant]--; u.byTenant[tenant] == 0 {
				delete(u.byTenant, tenant)
			}
		})
	}, nil
}

func tooManyUploads(scope string, limit int) error {
	e := store.Errorf(wire.CodeTooManyUploads, "%d uploads in flight already, the %s's limit; retry later", limit, scope)
	e.Details = map[string]any{"scope": scope, "limit": limit,
		"retry_after_seconds": int(uploadRetryAfter / time.Second)}
	return e
}

// setRetryAfter tells a client refused by a limit when to come back.
func setRetryAfter(c echo.Context) {
	c.Response().Header().Set("Retry-After", strconv.Itoa(int(uploadRetryAfter/time.Second)))
}

// errTooSlow ends an upload whose body arrives slower than the minimum rate.
var errTooSlow = errors.New("upload body arrived too slowly")

// uploadBody reads a request body and fails it when fewer than minBytes
// arrive within window of time spent waiting for them, so that a client
// trickling bytes (slowloris) cannot hold a slot for ever. Only time blocked
// in Read counts: while the server itself is busy (a slow S3 part), the
// client cannot send and is not blamed. The time limit is the connection's
// read deadline, so a client that sends nothing at all is cut off too.
// It remembers the first error of the body, to tell the client's failures
// from the server's.
type uploadBody struct {
	r           io.Reader
	setDeadline func(time.Time) error // nil: the connection has no deadlines (tests with a recorder)
	minBytes    int64
	window      time.Duration
	got         int64         // bytes in the current window
	left        time.Duration // waiting time the current window still allows
	err         error
}

func newUploadBody(c echo.Context, r io.Reader, bytesPerSecond int64, window time.Duration) *uploadBody {
	b := &uploadBody{r: r, minBytes: max(1, int64(float64(bytesPerSecond)*window.Seconds())), window: window, left: window}
	rc := http.NewResponseController(c.Response())
	if err := rc.SetReadDeadline(time.Time{}); err == nil {
		b.setDeadline = rc.SetReadDeadline
	}
	return b
}

func (b *uploadBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	start := time.Now()
	if b.setDeadline != nil {
		_ = b.setDeadline(start.Add(b.left))
	}
	n, err := b.r.Read(p)
	b.left -= time.Since(start)
	if b.got += int64(n); b.got >= b.minBytes {
		b.got, b.left = 0, b.window
	}
	switch {
	case err == io.EOF:
		// net/http reads the connection in the background once the body
		// is done; a deadline left behind would cancel the request.
		b.done()
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = errTooSlow
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// done lifts the read deadline at the end of the body. It is left in place
// on a body not read to its end, so that net/http's draining of the rest
// after the response cannot block on a client that stopped sending.
func (b *uploadBody) done() {
	if b.setDeadline != nil {
		_ = b.setDeadline(time.Time{})
	}
}

// bodyError turns the failure of the client's body into the error the
// client gets: none of them is the server's fault, so none is logged.
func (b *uploadBody) bodyError(maxBytes int64, bytesPerSecond int64) error {
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(b.err, &maxErr):
		return tooLarge(maxBytes)
	case errors.Is(b.err, errTooSlow):
		e := store.Errorf(wire.CodeUploadTooSlow, "the upload arrived slower than %d bytes/s over %s", bytesPerSecond, b.window)
		e.Details = map[string]any{"min_bytes_per_second": bytesPerSecond, "window": b.window.String()}
		return e
	}
	return store.Errorf(wire.CodeIncompleteBody, "the upload ended before the whole package arrived: %v", b.err)
}

// admitUpload lets an upload's body in: within the size limit and the
// tenant's quota (by its declared length), in one of the upload slots,
// read at the minimum rate. release frees the slot.
func (s *Server) admitUpload(c echo.Context, tenantID int64) (body *uploadBody, release func(), err error) {
	req := c.Request()
	if req.ContentLength > s.cfg.MaxUploadBytes {
		return nil, nil, tooLarge(s.cfg.MaxUploadBytes)
	}
	if err := s.store.CheckUploadQuota(req.Context(), tenantID, max(req.ContentLength, 0)); err != nil {
		return nil, nil, err
	}
	release, err = s.uploads.acquire(tenantID)
	if err != nil {
		setRetryAfter(c)
		return nil, nil, err
	}
	body = newUploadBody(c, http.MaxBytesReader(c.Response(), req.Body, s.cfg.MaxUploadBytes),
		s.cfg.MinUploadRate, s.cfg.UploadRateWindow)
	return body, release, nil
}
