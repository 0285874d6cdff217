package blob_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
)

// drainProxy is a TCP proxy in front of the S3 server that can tell when
// the server is done with every request it was sent: Drain half-closes each
// connection towards the server, which then finishes whatever request it
// was reading or handling and closes the connection; Drain returns once
// every one is closed. A test that asserts what a broken request left
// behind asserts it after Drain, not after a guessed sleep.
type drainProxy struct {
	l        net.Listener
	upstream string

	stopped chan struct{} // closed when serve no longer accepts
	mu      sync.Mutex
	conns   []*net.TCPConn // towards the server
	open    sync.WaitGroup // connections the server has not closed yet
}

// newDrainedS3 returns a store that reaches the test S3 server through a
// drainProxy, and the proxy.
func newDrainedS3(t *testing.T) (*blob.S3, *drainProxy) {
	cfg := blobtest.Config(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint, err := url.Parse(cfg.Endpoint)
	require.NoError(t, err)
	p := &drainProxy{l: l, upstream: endpoint.Host, stopped: make(chan struct{})}
	t.Cleanup(func() { _ = l.Close() })
	go p.serve()
	cfg.Endpoint = "http://" + l.Addr().String()
	s, err := blob.NewS3(t.Context(), cfg)
	require.NoError(t, err)
	return s, p
}

func (p *drainProxy) serve() {
	defer close(p.stopped)
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, up.(*net.TCPConn))
		p.open.Add(1)
		p.mu.Unlock()
		go func() {
			_, _ = io.Copy(up, c)
			_ = up.(*net.TCPConn).CloseWrite()
		}()
		go func() {
			defer p.open.Done()
			_, _ = io.Copy(c, up) // ends when the server closes
			_ = c.Close()
			_ = up.Close()
		}()
	}
}

// Drain stops new connections, half-closes every connection towards the
// server and waits until the server has closed each one.
func (p *drainProxy) Drain(ctx context.Context) error {
	_ = p.l.Close()
	<-p.stopped
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.CloseWrite()
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.open.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("the S3 server kept a connection open after its client went away")
	}
}
