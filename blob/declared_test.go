package blob_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
)

// trickle hands over a few bytes, says so, then blocks until released and
// breaks: a client that declared a large upload and stalled.
type trickle struct {
	data    []byte
	stalled chan<- struct{}
	release <-chan struct{}
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.data) > 0 {
		n := copy(p, t.data)
		t.data = t.data[n:]
		return n, nil
	}
	t.stalled <- struct{}{}
	<-t.release
	return 0, errBodyBroke
}

// TestPutDeclaredSizeMemory replays 40 uploads that declare 8 MiB or 1 GiB
// and send 8 bytes: the heap must not grow by what they declared (it grew
// by 337 MB when a part buffer was sized from the declared length). It
// does not call t.Parallel: the heap measurement needs the process to
// itself, and Go runs the parallel tests only after the sequential ones.
func TestPutDeclaredSizeMemory(t *testing.T) {
	s, prefix := blobtest.New(t)
	const uploads = 40
	stalled := make(chan struct{}, uploads)
	release := make(chan struct{})

	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var g errgroup.Group
	for i := range uploads {
		declared := int64(8 << 20) // one part: used to be read into make([]byte, size)
		if i%2 == 1 {
			declared = 1 << 30 // multipart: used to allocate a whole first part
		}
		body := &trickle{data: []byte("8 bytes!"), stalled: stalled, release: release}
		g.Go(func() error {
			_, err := s.Put(t.Context(), fmt.Sprintf("%sstalled/%d", prefix, i), body, declared, blob.PutOptions{})
			return err
		})
	}
	for range uploads {
		<-stalled
	}
	runtime.GC()
	runtime.ReadMemStats(&during)
	close(release)
	require.ErrorIs(t, g.Wait(), errBodyBroke)

	growth := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d stalled uploads: heap grew by %.1f MiB", uploads, float64(growth)/(1<<20))
	require.Less(t, growth, int64(16<<20))
}
