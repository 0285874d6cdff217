package blob_test

import (
	"time"
	"testing"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
)

func TestZZProbe(t *testing.T) {
	s, prefix := blobtest.New(t)
	body := newStream(3<<20, 1)
	body.failAfter = 1 << 20
	_, err := s.Put(t.Context(), prefix+"k", body, 3<<20, blob.PutOptions{})
	t.Log(err)
	time.Sleep(time.Second)
	info, err := s.Head(t.Context(), prefix+"k")
	t.Log(info, err)
}
