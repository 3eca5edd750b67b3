package room

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor bounds every wait in these tests: a test that has to wait longer
// than this for an event has found a hang.
const waitFor = 5 * time.Second

// newHub creates a hub that is closed when the test ends.
func newHub(t testing.TB, cfg Config) *Hub {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { closeHub(t, h) })
	return h
}

// closeHub closes h, failing the test if that takes longer than waitFor.
// Close itself only bounds the wait for the rooms, not for Hub.mu, so it is
// run on its own goroutine: a hub wedged by a bug fails the test instead of
// hanging the test binary.
func closeHub(t testing.TB, h *Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Close(ctx, "") }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(2 * waitFor):
		t.Errorf("Close did not return within %v: the hub is wedged", 2*waitFor)
	}
}

// connect admits identity id with the preferred name.
func connect(t testing.TB, h *Hub, id, name string) *Session {
	t.Helper()
	return connectAs(t, h, Identity{ID: id, Name: name})
}

func connectAs(t testing.TB, h *Hub, id Identity) *Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	s, err := h.Connect(ctx, id)
	if err != nil {
		t.Fatalf("Connect(%+v): %v", id, err)
	}
	return s
}

// next returns the session's next event, failing the test if none arrives
// within waitFor or the session ends.
func next(t testing.TB, s *Session) Message {
	t.Helper()
	select {
	case m, ok := <-s.Events():
		if !ok {
			t.Fatalf("session %d of %s: Events closed (reason %q) while an event was expected", s.id, s.ID(), s.Reason())
		}
		return m
	case <-time.After(waitFor):
		t.Fatalf("session %d of %s: no event within %v", s.id, s.ID(), waitFor)
	}
	panic("unreachable")
}

// expect returns the next event and checks its kind. Member-list
// refreshes (KindPresence: nothing shown) are passed over unless asked for.
func expect(t testing.TB, s *Session, kind Kind) Message {
	t.Helper()
	m := next(t, s)
	for m.Kind == KindPresence && kind != KindPresence {
		m = next(t, s)
	}
	if m.Kind != kind {
		t.Fatalf("session %d of %s: got %s event %+v, want %s", s.id, s.ID(), m.Kind, m, kind)
	}
	return m
}

// expectChat checks that the next event is a chat from the given name with
// the given text.
func expectChat(t testing.TB, s *Session, from, text string) Message {
	t.Helper()
	m := expect(t, s, KindChat)
	if m.From != from || m.Text != text {
		t.Fatalf("session %d of %s: got chat %q from %q, want %q from %q", s.id, s.ID(), m.Text, m.From, text, from)
	}
	return m
}

// until reads events until one satisfies match, returning it and the events
// read before it.
func until(t testing.TB, s *Session, match func(Message) bool) (Message, []Message) {
	t.Helper()
	var skipped []Message
	for {
		m := next(t, s)
		if match(m) {
			return m, skipped
		}
		skipped = append(skipped, m)
	}
}

func isChat(text string) func(Message) bool {
	return func(m Message) bool { return m.Kind == KindChat && m.Text == text }
}

func isKind(k Kind) func(Message) bool {
	return func(m Message) bool { return m.Kind == k }
}

// ended waits for the session's Events channel to close and returns what
// was still queued.
func ended(t testing.TB, s *Session) []Message {
	t.Helper()
	var rest []Message
	deadline := time.After(waitFor)
	for {
		select {
		case m, ok := <-s.Events():
			if !ok {
				select {
				case <-s.Done():
				default:
					t.Fatalf("Events closed but Done is not")
				}
				return rest
			}
			rest = append(rest, m)
		case <-deadline:
			t.Fatalf("session %d of %s: Events not closed within %v", s.id, s.ID(), waitFor)
		}
	}
}

// send sends text and requires success.
func send(t testing.TB, s *Session, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s.Send(ctx, text); err != nil {
		t.Fatalf("Send(%q) from %s: %v", text, s.ID(), err)
	}
}

// sendErr sends text and requires an *Error, which it returns.
func sendErr(t testing.TB, s *Session, text string) *Error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := s.Send(ctx, text)
	var ue *Error
	if !errors.As(err, &ue) {
		t.Fatalf("Send(%q) from %s: got error %v (%T), want an *Error", text, s.ID(), err, err)
	}
	return ue
}

var barrierN struct {
	sync.Mutex
	n int
}

// syncAll has from post a unique chat line and reads every listed session up
// to it, discarding what came before. It returns the line's text.
func syncAll(t testing.TB, from *Session, sessions ...*Session) string {
	t.Helper()
	barrierN.Lock()
	barrierN.n++
	text := fmt.Sprintf("barrier %d", barrierN.n)
	barrierN.Unlock()
	send(t, from, text)
	for _, s := range append([]*Session{from}, sessions...) {
		until(t, s, isChat(text))
	}
	return text
}

// notReceived proves that nothing reached the sessions between the previous
// event read from them and now: from posts a unique line, and it must be the
// very next event of each session.
func notReceived(t testing.TB, from *Session, sessions ...*Session) {
	t.Helper()
	barrierN.Lock()
	barrierN.n++
	text := fmt.Sprintf("barrier %d", barrierN.n)
	barrierN.Unlock()
	send(t, from, text)
	for _, s := range sessions {
		m := next(t, s)
		if m.Kind != KindChat || m.Text != text {
			t.Fatalf("session %d of %s: got unexpected %s event %+v before the barrier line", s.id, s.ID(), m.Kind, m)
		}
	}
	if !containsSession(sessions, from) {
		until(t, from, isChat(text))
	}
}

func containsSession(ss []*Session, s *Session) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// eventually polls cond, yielding the processor between tries, until it
// holds or waitFor passes. It is for state that no channel announces
// (goroutine counts, a queue filling up); it never sleeps.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitFor, what)
		}
		runtime.Gosched()
	}
}

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeHistory is an in-memory History that records every Append batch and
// can be told to refuse or to hold batches.
type fakeHistory struct {
	mu      sync.Mutex
	stored  []Message
	batches [][]Message
	// failWhen, if set, is asked about each batch; a true answer refuses it
	// (and clears failWhen, so only one batch fails).
	failWhen func(batch []Message) bool
	// failed receives each refused batch, if not nil (buffered).
	failed chan []Message
	// hold, if not nil, makes Append announce itself on entered and wait
	// until hold is closed.
	hold    chan struct{}
	entered chan []Message
	// loadErr makes LastSeq fail.
	loadErr error
}

var errDiskFull = errors.New("fake history: disk full")

func (f *fakeHistory) Append(ctx context.Context, msgs []Message) error {
	batch := append([]Message(nil), msgs...)
	f.mu.Lock()
	hold, entered := f.hold, f.entered
	f.mu.Unlock()
	if hold != nil {
		entered <- batch
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWhen != nil && f.failWhen(batch) {
		f.failWhen = nil
		if f.failed != nil {
			f.failed <- batch
		}
		return errDiskFull
	}
	f.batches = append(f.batches, batch)
	f.stored = append(f.stored, batch...)
	return nil
}

func (f *fakeHistory) Before(ctx context.Context, room string, before uint64, n int) ([]Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Message
	for _, m := range f.stored {
		if m.Room == room && (before == 0 || m.Seq < before) {
			out = append(out, m)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return append([]Message(nil), out...), nil
}

func (f *fakeHistory) LastSeq(ctx context.Context, room string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loadErr != nil {
		return 0, f.loadErr
	}
	var last uint64
	for _, m := range f.stored {
		if m.Room == room && m.Seq > last {
			last = m.Seq
		}
	}
	return last, nil
}

// failNext makes the next batch that satisfies match fail.
func (f *fakeHistory) failNext(match func([]Message) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWhen = match
}

func (f *fakeHistory) texts(room string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.stored {
		if m.Room == room && m.Kind == KindChat {
			out = append(out, m.Text)
		}
	}
	return out
}

// checkContiguous fails unless the stored messages of room are numbered
// 1, 2, 3, ... in order.
func (f *fakeHistory) checkContiguous(t testing.TB, room string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	want := uint64(1)
	for _, m := range f.stored {
		if m.Room != room {
			continue
		}
		if m.Seq != want {
			t.Fatalf("stored message %+v has Seq %d, want %d", m, m.Seq, want)
		}
		want++
	}
}

func anyBatch([]Message) bool { return true }

func batchHas(k Kind) func([]Message) bool {
	return func(b []Message) bool {
		for _, m := range b {
			if m.Kind == k {
				return true
			}
		}
		return false
	}
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\n') || (r >= 0x7f && r < 0xa0)
	})
}
