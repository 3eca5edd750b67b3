package server

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestServeAfterCloseReturns: a Close that comes before Serve has started
// (a test's cleanup, or a SIGTERM during start-up) must not leave Serve
// accepting for ever. The SSH library only closes listeners its Serve has
// already tracked, so the server closes what it was given itself.
func TestServeAfterCloseReturns(t *testing.T) {
	srv, err := compose(testConfig{Config: Config{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after Close = %v, want nil", err)
		}
	case <-time.After(testWait):
		ln.Close()
		t.Fatal("Serve after Close did not return")
	}
}
