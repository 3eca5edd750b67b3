// Package testkit is parley's one test harness: it starts a server (the
// real binary, built once per test binary, or an in-process server handed
// to Serve), dials it with an ed25519 key and a pseudo-terminal
// (golang.org/x/crypto/ssh), and reads the screen through a terminal
// emulator (github.com/hinshun/vt10x), so that tests assert on what a
// person would see.
//
// It lives under internal/ and is imported only by parley's own tests:
// e2e (and its subpackages), the root package's tests and the package
// tests (server). It imports no parley package, so that a package's
// internal tests can use it without an import cycle; building an
// in-process server is the job of the subpackage testkit/inprocess, the
// one place that names the server's constructor.
//
// Synchronisation rules: nothing here sleeps to wait for something. A
// Session's reader goroutines feed the emulator and wake every waiter on
// each chunk of output (Session.Await, Session.WaitFor); state that
// produces no output is polled with a deadline by Eventually.
//
// The emulator is vt10x behind a small adapter: vt10x drops the bytes of
// a UTF-8 character split across two writes, so the adapter holds an
// incomplete tail back (IncompleteUTF8Tail). vt10x gives every character
// one cell, so text after a wide (East Asian or emoji) character is drawn
// one cell to the left per wide character until the next absolute cursor
// move; and it does not know REP (CSI b), which the renderer uses for some
// TERM values but not for xterm-256color, the TERM these clients send.
// Replies to the renderer's queries (background colour, mode reports) go
// nowhere.
//
// cmd/parley-bench keeps its own, cheaper emulator: it drives a thousand
// sessions for load figures, not assertions.
package testkit
