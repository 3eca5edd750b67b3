// Package inprocess is the one place in the test harness that builds a
// parley server in the test's own process, with app.New (the composition
// root, as the binary does): when the wiring changes, only this file
// follows. It is apart from testkit so that testkit imports no parley package and a
// package's internal tests (server's) can use testkit without a cycle.
package inprocess

import (
	"testing"

	"parley/app"
	"parley/internal/testkit"
)

// Start builds a server from cfg and serves it on 127.0.0.1:0. Cleanup
// closes it, giving it testkit.WaitTimeout, and fails the test when Close
// fails or Serve returns an error.
func Start(t testing.TB, cfg app.Config) (*app.App, *testkit.Running) {
	t.Helper()
	srv, err := app.New(cfg)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	return srv, testkit.Serve(t, srv, testkit.WaitTimeout)
}
