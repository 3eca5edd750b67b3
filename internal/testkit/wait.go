package testkit

import (
	"bytes"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// WaitTimeout bounds every wait for something that should happen promptly.
// It only matters when a test fails: waits return as soon as their
// condition holds (typically in milliseconds). It is generous because
// -race on a small, busy machine is slow: with a load of 15 on 2 CPUs,
// logging in alone was seen to take 7 s.
const WaitTimeout = 30 * time.Second

// PollInterval is how often Eventually re-checks its condition.
const PollInterval = 5 * time.Millisecond

// Eventually polls cond every PollInterval until it holds, failing the test
// after timeout. It is for state that produces no output to wait on (a file
// reloaded, a member gone).
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, PollInterval, cond) {
		t.Fatalf("after %v still waiting for: %s", timeout, what)
	}
}

// Poll checks cond every interval until it holds (true) or timeout passes
// (false). It never fails a test, so it may run on any goroutine.
func Poll(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
	return true
}

// WaitGoroutines waits until at most limit goroutines are running, failing
// with every goroutine's stack after timeout.
func WaitGoroutines(t testing.TB, limit int, timeout time.Duration) {
	t.Helper()
	if !Poll(timeout, 10*time.Millisecond, func() bool { return runtime.NumGoroutine() <= limit }) {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutine leak: %d running, want at most %d; stacks:\n%s", runtime.NumGoroutine(), limit, buf[:n])
	}
}

// LockedBuffer is a bytes.Buffer safe for concurrent writers and readers
// (a server's log, a child's stderr).
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tail returns the last n bytes of s, for failure messages.
func Tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Frame draws a screen with a border, for failure messages.
func Frame(screen string) string {
	rows := strings.Split(strings.TrimSuffix(screen, "\n"), "\n")
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("|" + r + "|\n")
	}
	return b.String()
}
