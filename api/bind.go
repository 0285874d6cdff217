package api

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// maxJSONBody caps a JSON request body; a change of maxChangeItems entries
// is well under it. Package uploads are not JSON and have their own cap.
const maxJSONBody = 1 << 20

// maxSignatureBody caps a signature submission, which carries InRelease: a
// release of 64 components × 64 architectures has a Release of some 3 MB.
const maxSignatureBody = 16 << 20

var errBodyTooLarge = errors.New("request body too large")

// bind decodes a JSON body of at most maxJSONBody bytes strictly.
func bind(c echo.Context, v any) error {
	return bindMax(c, v, maxJSONBody)
}

// bindMax decodes exactly one JSON value of at most max bytes. Unknown
// fields are a 400, so a typo does not silently change nothing; so is
// anything but whitespace after the value, which another parser in front of
// aptq (a proxy, a log pipeline) could read differently.
func bindMax(c echo.Context, v any, max int64) error {
	dec := json.NewDecoder(&capped{r: c.Request().Body, left: max})
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// A second value, or garbage, after the first.
		if _, err = dec.Token(); err == io.EOF {
			return nil
		}
		if !errors.Is(err, errBodyTooLarge) {
			return store.Errorf(wire.CodeTrailingData, "the JSON body holds data after its one value")
		}
	}
	if errors.Is(err, errBodyTooLarge) {
		return store.Errorf(wire.CodeTooLarge, "the JSON body is larger than %d bytes", max)
	}
	return badRequest("invalid JSON body: %v", err)
}

// capped fails, rather than stopping quietly, once more than left bytes
// arrive, so that a long body is a 413 and not a truncated-JSON 400.
type capped struct {
	r    io.Reader
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return 0, errBodyTooLarge
	}
	return n, err
}
