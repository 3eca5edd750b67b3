package testkit

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeServer accepts nothing and returns serveErr from Serve once closed.
type fakeServer struct {
	ln       net.Listener
	serveErr error
	closed   chan struct{}
}

func (f *fakeServer) Serve(ln net.Listener) error {
	f.ln = ln
	<-f.closed
	ln.Close()
	return f.serveErr
}

func (f *fakeServer) Close(context.Context) error { close(f.closed); return nil }

// TestRunningCloseReportsServe checks that Close waits for Serve and
// reports a Serve that did not return nil: the harness's check that a
// server shuts down cleanly must be able to fail.
func TestRunningCloseReportsServe(t *testing.T) {
	clean := Serve(t, &fakeServer{closed: make(chan struct{})}, time.Second)
	if err := clean.Close(); err != nil {
		t.Errorf("clean Close: %v", err)
	}
	if !strings.HasPrefix(clean.Addr, "127.0.0.1:") {
		t.Errorf("Addr %q, want loopback", clean.Addr)
	}
	bad := &Running{srv: &fakeServer{serveErr: errors.New("boom"), closed: make(chan struct{})}, timeout: time.Second, served: make(chan error, 1)}
	ln := ListenLoopback(t)
	go func() { bad.served <- bad.srv.Serve(ln) }()
	if err := bad.Close(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Close after a failing Serve: %v, want it to report boom", err)
	}
	if err := bad.Close(); err == nil {
		t.Error("a second Close forgot the first result")
	}
}

// TestPollGivesUp checks the condition wait: true as soon as the condition
// holds, false once the deadline passes.
func TestPollGivesUp(t *testing.T) {
	n := 0
	if !Poll(time.Second, time.Millisecond, func() bool { n++; return n == 3 }) {
		t.Error("Poll gave up on a condition that came true")
	}
	start := time.Now()
	if Poll(20*time.Millisecond, time.Millisecond, func() bool { return false }) {
		t.Error("Poll reported a condition that never held")
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("Poll gave up after %v, before its deadline", d)
	}
}
