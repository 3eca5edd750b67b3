package testkit

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// Server is what Serve runs: parley's server.Server, or whatever the
// composition root builds, as long as it serves a listener until closed.
type Server interface {
	Serve(net.Listener) error
	Close(context.Context) error
}

// Running is a Server serving on a loopback listener. Its fields are set
// before Serve returns and never change.
type Running struct {
	Addr string // host:port on 127.0.0.1

	srv       Server
	timeout   time.Duration
	served    chan error
	closeOnce sync.Once
	closeErr  error
}

// Serve starts srv on 127.0.0.1:0. Cleanup closes it (giving it timeout)
// and checks that Serve returned nil.
func Serve(t testing.TB, srv Server, timeout time.Duration) *Running {
	t.Helper()
	ln := ListenLoopback(t)
	r := &Running{Addr: ln.Addr().String(), srv: srv, timeout: timeout, served: make(chan error, 1)}
	go func() { r.served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("server Close: %v", err)
		}
	})
	return r
}

// ListenLoopback listens on 127.0.0.1:0.
func ListenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Close closes the server once, giving it the timeout, and waits for Serve
// to return; later calls return the first result. A Close that hangs past
// its deadline, or a Serve that returns an error or does not return, is
// reported as an error instead of hanging the test.
func (r *Running) Close() error {
	r.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- r.srv.Close(ctx) }()
		select {
		case r.closeErr = <-done:
		case <-time.After(r.timeout + 5*time.Second):
			r.closeErr = errors.New("server Close hung past its deadline")
			return
		}
		select {
		case err := <-r.served:
			if err != nil {
				r.closeErr = errors.Join(r.closeErr, errors.New("Serve returned "+err.Error()+", want nil after Close"))
			}
		case <-time.After(r.timeout):
			r.closeErr = errors.Join(r.closeErr, errors.New("Serve did not return after Close"))
		}
	})
	return r.closeErr
}
