package room

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"
)

// logRecorder is a slog.Handler that keeps every record with its attributes.
type logRecorder struct {
	mu      sync.Mutex
	records []loggedRecord
}

type loggedRecord struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := loggedRecord{level: r.Level, msg: r.Message, attrs: map[string]any{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Any()
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, rec)
	return nil
}

// find returns the records with message msg.
func (l *logRecorder) find(msg string) []loggedRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loggedRecord
	for _, r := range l.records {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// dropObserver records the reasons given to SessionDropped.
type dropObserver struct {
	NopObserver
	mu      sync.Mutex
	dropped []string
}

func (o *dropObserver) SessionDropped(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dropped = append(o.dropped, reason)
}

func (o *dropObserver) reasons() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.dropped...)
}

// drainQueued drops, without waiting, everything queued for s now (as a
// reader taking it would, without allocating: BenchmarkIdleSessionMemory
// uses it too).
func drainQueued(s *Session) {
	var buf [64]Message
	for {
		if _, got, _ := s.q.take(buf[:0], len(buf)); !got {
			return
		}
	}
}

// queued reports what s's queue holds: messages, their size, and the
// length of its ring (0: no backing array).
func queued(s *Session) (n, bytes, ring int) {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	return s.q.n, s.q.bytes, len(s.q.buf)
}

// receiveAll calls Receive with max until it reports the end, and returns
// everything it got.
func receiveAll(t testing.TB, s *Session, max int) []Message {
	t.Helper()
	done := make(chan []Message, 1)
	go func() {
		var all, buf []Message
		for {
			var ok bool
			if buf, ok = s.Receive(buf, max); !ok {
				done <- all
				return
			}
			all = append(all, buf...)
		}
	}()
	select {
	case all := <-done:
		return all
	case <-time.After(waitFor):
		t.Fatalf("Receive did not report the end within %v", waitFor)
	}
	panic("unreachable")
}

const queueFullLog = "session disconnected: outgoing queue full"

// checkDropped checks that s, and s alone, was disconnected for its queue
// with the given bound, and that what it had queued is still delivered.
func checkDropped(t *testing.T, h *Hub, logs *logRecorder, obs *dropObserver, s, other *Session,
	bound string, wantMessages, wantBytes, limit int) {
	t.Helper()
	select {
	case <-s.Done():
	default:
		t.Fatal("the session whose queue overflowed is still connected")
	}
	if r := s.Reason(); r != "your connection could not keep up with the room" {
		t.Errorf("Reason = %q", r)
	}
	recs := logs.find(queueFullLog)
	if len(recs) != 1 {
		t.Fatalf("%d %q records, want 1: %+v", len(recs), queueFullLog, recs)
	}
	r := recs[0]
	if r.level != slog.LevelWarn {
		t.Errorf("logged at %v, want WARN", r.level)
	}
	want := map[string]any{"id": s.m.id, "session": s.id, "messages": int64(wantMessages),
		"bytes": int64(wantBytes), "bound": bound, "limit": int64(limit)}
	for k, v := range want {
		if fmt.Sprint(r.attrs[k]) != fmt.Sprint(v) {
			t.Errorf("log field %s = %v, want %v (record %+v)", k, r.attrs[k], v, r.attrs)
		}
	}
	if got := obs.reasons(); len(got) != 1 || got[0] != "slow" {
		t.Errorf("Observer.SessionDropped got %q, want [slow]", got)
	}
	// Only that session: the other one is still here and is told it left.
	select {
	case <-other.Done():
		t.Fatalf("the other session ended too: %q", other.Reason())
	default:
	}
	if _, n := h.Online(); n != 1 {
		t.Errorf("Online sessions = %d, want 1", n)
	}
	l, _ := until(t, other, isKind(KindLeave))
	if l.FromID != s.m.id || !strings.Contains(l.Text, "keep up") {
		t.Errorf("the other session saw %+v, want the dropped session's leave", l)
	}
	// What was accepted before the end is still delivered, then the end.
	got := receiveAll(t, s, 100)
	if len(got) != wantMessages {
		t.Fatalf("the dropped session still received %d messages, want the %d queued", len(got), wantMessages)
	}
	for i, m := range got {
		if m.Text != fmt.Sprintf("n%d", i) && !strings.HasPrefix(m.Text, fmt.Sprintf("n%d ", i)) {
			t.Fatalf("message %d after the end = %q, out of order", i, m.Text)
		}
	}
}

func TestQueueCountBoundDisconnectsOnlyThatSession(t *testing.T) {
	const limit = 6
	logs, obs := &logRecorder{}, &dropObserver{}
	h := newHub(t, Config{QueueSize: limit, Logger: slog.New(logs), Observer: obs})
	slow := connect(t, h, "id-slow", "slow")
	other := connect(t, h, "id-other", "other")
	drainQueued(slow)

	for i := range limit {
		slow.Notice(fmt.Sprintf("n%d", i))
	}
	if n, _, _ := queued(slow); n != limit {
		t.Fatalf("%d queued, want %d", n, limit)
	}
	select {
	case <-slow.Done():
		t.Fatalf("disconnected with %d messages queued, the bound itself: %q", limit, slow.Reason())
	default:
	}
	_, bytes, _ := queued(slow)
	slow.Notice("one too many")
	checkDropped(t, h, logs, obs, slow, other, boundMessages, limit, bytes, limit)
}

func TestQueueByteBoundDisconnectsOnlyThatSession(t *testing.T) {
	text := strings.Repeat("x", 1000)
	size := messageOverhead + len("n0 ") + len(text)
	const fits = 5
	logs, obs := &logRecorder{}, &dropObserver{}
	h := newHub(t, Config{QueueBytes: fits * size, Logger: slog.New(logs), Observer: obs})
	slow := connect(t, h, "id-slow", "slow")
	other := connect(t, h, "id-other", "other")
	drainQueued(slow)

	for i := range fits {
		slow.Notice(fmt.Sprintf("n%d %s", i, text))
	}
	if n, bytes, _ := queued(slow); n != fits || bytes != fits*size {
		t.Fatalf("queued %d messages of %d bytes, want %d of %d", n, bytes, fits, fits*size)
	}
	select {
	case <-slow.Done():
		t.Fatalf("disconnected at exactly the byte bound: %q", slow.Reason())
	default:
	}
	slow.Notice("n5 the last straw") // far fewer than QueueSize messages
	checkDropped(t, h, logs, obs, slow, other, boundBytes, fits, fits*size, fits*size)
}

func TestQueueAcceptsOneLargeMessageInAnEmptyQueue(t *testing.T) {
	logs := &logRecorder{}
	h := newHub(t, Config{QueueBytes: 1, Logger: slog.New(logs)})
	s := connect(t, h, "id-s", "s")
	drainQueued(s)
	for i := range 3 {
		s.Notice(fmt.Sprintf("big %d", i)) // each larger than the bound
		if got, _ := s.Receive(nil, 10); len(got) != 1 || got[0].Text != fmt.Sprintf("big %d", i) {
			t.Fatalf("Receive = %+v", got)
		}
	}
	select {
	case <-s.Done():
		t.Fatalf("a session that keeps up was disconnected: %q", s.Reason())
	default:
	}
	s.Notice("a")
	s.Notice("b") // the queue is not empty: now the bound applies
	select {
	case <-s.Done():
	default:
		t.Fatal("a second message over the byte bound did not end the session")
	}
	if recs := logs.find(queueFullLog); len(recs) != 1 || recs[0].attrs["bound"] != boundBytes {
		t.Fatalf("log = %+v, want one byte-bound record", recs)
	}
}

func TestIdleSessionHoldsNoQueue(t *testing.T) {
	h := newHub(t, Config{})
	if _, _, ring := queued(&Session{}); ring != 0 {
		t.Fatal("a zero queue has a ring")
	}
	a := connect(t, h, "id-a", "a")
	b := connect(t, h, "id-b", "b")
	for _, s := range []*Session{a, b} {
		if n, _, ring := queued(s); n == 0 || ring == 0 {
			t.Fatalf("after connecting: %d queued in a ring of %d; want the join and a ring", n, ring)
		}
	}
	// A few bursts of different sizes, each read to the end.
	drainQueued(a)
	for _, burst := range []int{1, 3, 40, 300, 2} {
		for i := range burst {
			a.Notice(fmt.Sprint(i))
		}
		for n := 0; n < burst; {
			got, _ := a.Receive(nil, 7)
			n += len(got)
		}
		if n, bytes, ring := queued(a); n != 0 || bytes != 0 || ring != 0 {
			t.Fatalf("drained after a burst of %d: %d messages, %d bytes, a ring of %d; want nothing", burst, n, bytes, ring)
		}
	}
	drainQueued(b)
	if n, bytes, ring := queued(b); n != 0 || bytes != 0 || ring != 0 {
		t.Fatalf("drained: %d messages, %d bytes, a ring of %d; want nothing", n, bytes, ring)
	}
	// Connecting allocates no queue either: the bytes allocated per
	// connection do not depend on QueueSize.
	perConnect := func(queueSize int) uint64 {
		h := newHub(t, Config{QueueSize: queueSize})
		const n = 20
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range n {
			s := connect(t, h, fmt.Sprintf("id-%d", i), fmt.Sprintf("u%d", i))
			s.Close("")
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / n
	}
	small, large := perConnect(16), perConnect(1<<16) // a ring of 2^16 would be 8.5 MiB
	if large > small+64<<10 {
		t.Fatalf("Connect allocates %d bytes with QueueSize 2^16, %d with 16: the queue is allocated up front", large, small)
	}
}

func TestReceiveBatchesInOrder(t *testing.T) {
	h := newHub(t, Config{})
	s := connect(t, h, "id-s", "s")
	drainQueued(s)
	for i := range 10 {
		s.Notice(fmt.Sprintf("n%d", i))
	}
	buf := make([]Message, 0, 8)
	var texts []string
	for _, limit := range []int{4, 0, 3, 100} { // 0 counts as 1
		got, ok := s.Receive(buf, limit)
		if !ok || len(got) != min(max(limit, 1), 10-len(texts)) {
			t.Fatalf("Receive(max %d) = %d messages, %v", limit, len(got), ok)
		}
		if &got[0] != &buf[:1][0] {
			t.Fatalf("Receive(max %d) did not reuse the caller's buffer", limit)
		}
		for _, m := range got {
			texts = append(texts, m.Text)
		}
	}
	if want := "n0 n1 n2 n3 n4 n5 n6 n7 n8 n9"; strings.Join(texts, " ") != want {
		t.Fatalf("received %q, want %q", strings.Join(texts, " "), want)
	}

	// Receive waits for the next message, without the hub's lock.
	got := make(chan []Message, 1)
	go func() {
		msgs, _ := s.Receive(nil, 10)
		got <- msgs
	}()
	s.Notice("later")
	select {
	case msgs := <-got:
		if len(msgs) != 1 || msgs[0].Text != "later" {
			t.Fatalf("Receive = %+v, want the notice", msgs)
		}
	case <-time.After(waitFor):
		t.Fatal("Receive did not return when a message arrived")
	}
	s.Notice("under the lock")
	h.mu.Lock()
	go func() {
		msgs, _ := s.Receive(nil, 10)
		got <- msgs
	}()
	returned := false
	select {
	case <-got:
		returned = true
	case <-time.After(waitFor):
	}
	h.mu.Unlock()
	if !returned {
		t.Fatal("Receive waited for Hub.mu")
	}
}

// TestOutgoingQueueIsAFIFO checks the ring against a plain slice through random
// puts and takes (wrapping, growing, shrinking).
func TestOutgoingQueueIsAFIFO(t *testing.T) {
	q := outbox{wake: make(chan struct{}, 1)}
	rng := rand.New(rand.NewPCG(1, 2))
	var model []Message
	next := 0
	for range 20000 {
		if rng.IntN(2) == 0 {
			m := Message{Seq: uint64(next), Text: strings.Repeat("y", rng.IntN(5))}
			if bound, _, _ := q.put(&m, 300, math.MaxInt); bound == "" {
				model = append(model, m)
				next++
			} else if len(model) != 300 {
				t.Fatalf("put refused with %d queued: %s", len(model), bound)
			}
			continue
		}
		got, ok, _ := q.take(nil, rng.IntN(40))
		if ok != (len(model) > 0) {
			t.Fatalf("take reported %v with %d queued", ok, len(model))
		}
		for _, m := range got {
			if m != model[0] {
				t.Fatalf("took %+v, want %+v", m, model[0])
			}
			model = model[1:]
		}
		want := 0
		for _, m := range model {
			want += messageSize(&m)
		}
		if q.n != len(model) || q.bytes != want {
			t.Fatalf("queue says %d messages of %d bytes, want %d of %d", q.n, q.bytes, len(model), want)
		}
		if len(model) == 0 && q.buf != nil {
			t.Fatal("an empty queue kept its ring")
		}
	}
}

func TestNothingAcceptedBeforeCloseIsLost(t *testing.T) {
	const lines = 300
	h := newHub(t, Config{QueueSize: 4 * lines})
	reader := connect(t, h, "id-reader", "reader")
	sender := connect(t, h, "id-sender", "sender")

	all := make(chan []Message, 1)
	go func() {
		var msgs, buf []Message
		for {
			var ok bool
			if buf, ok = reader.Receive(buf, 3); !ok {
				all <- msgs
				return
			}
			msgs = append(msgs, buf...)
		}
	}()
	var sent []string
	for i := range lines {
		text := fmt.Sprintf("line %d", i)
		if err := sender.Send(context.Background(), text); err != nil {
			t.Fatalf("Send: %v", err)
		}
		sent = append(sent, text)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := h.Close(ctx, "bye"); err != nil {
		t.Fatal(err)
	}
	var msgs []Message
	select {
	case msgs = <-all:
	case <-time.After(waitFor):
		t.Fatal("Receive did not report the end after Close")
	}
	var got []string
	for _, m := range msgs {
		if m.Kind == KindChat {
			got = append(got, m.Text)
		}
	}
	if strings.Join(got, "|") != strings.Join(sent, "|") {
		t.Fatalf("the reader got %d of the %d lines sent, or out of order", len(got), len(sent))
	}
	if last := msgs[len(msgs)-1]; last.Kind != KindAnnounce || last.Text != "bye" {
		t.Fatalf("last message = %+v, want the goodbye", last)
	}
}

// labelledEvents calls s.Events from a goroutine labelled for pprof, whose
// label the Events goroutine inherits, so that eventsGoroutines can count
// that goroutine alone (and not those of earlier tests, still finishing).
func labelledEvents(t *testing.T, s *Session) (<-chan Message, string) {
	label := fmt.Sprintf("%s/%d", t.Name(), s.id)
	var ch <-chan Message
	pprof.Do(context.Background(), pprof.Labels("events", label), func(context.Context) { ch = s.Events() })
	return ch, label
}

// eventsGoroutines counts the goroutines labelled by labelledEvents.
func eventsGoroutines(label string) int {
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		panic(err)
	}
	return strings.Count(b.String(), fmt.Sprintf("%q:%q", "events", label))
}

// eventsGoroutineEnds waits for the Events goroutine labelled label to end.
func eventsGoroutineEnds(t *testing.T, label string) {
	t.Helper()
	eventually(t, "the Events goroutine to end", func() bool { return eventsGoroutines(label) == 0 })
}

func TestEventsDeliversEverythingThenCloses(t *testing.T) {
	h := newHub(t, Config{})
	s := connect(t, h, "id-s", "s")
	drainQueued(s)
	ch, label := labelledEvents(t, s) // its goroutine starts with nothing queued
	if eventsGoroutines(label) != 1 {
		t.Fatalf("%d Events goroutines, want 1", eventsGoroutines(label))
	}
	for i := range 100 {
		s.Notice(fmt.Sprintf("n%d", i))
	}
	s.Close("done here") // the goroutine has messages in hand: it hands them over
	var got []string
	for m := range ch {
		got = append(got, m.Text)
	}
	if len(got) != 100 {
		t.Fatalf("Events delivered %d of 100", len(got))
	}
	for i, text := range got {
		if text != fmt.Sprintf("n%d", i) {
			t.Fatalf("Events delivered %q at %d", text, i)
		}
	}
	eventsGoroutineEnds(t, label)
	if s.Events() != ch {
		t.Fatal("a second call to Events returned another channel")
	}
}

func TestEventsHasQueuedMessagesReadyAtOnce(t *testing.T) {
	h := newHub(t, Config{})
	s := connect(t, h, "id-s", "s")
	drainQueued(s)
	s.Notice("motd")
	s.Notice("more")
	ch := s.Events()
	for _, want := range []string{"motd", "more"} {
		select {
		case m := <-ch:
			if m.Text != want {
				t.Fatalf("got %q, want %q", m.Text, want)
			}
		default:
			t.Fatalf("%q was queued before Events but is not ready", want)
		}
	}
	s.Notice("after")
	if m := next(t, s); m.Text != "after" {
		t.Fatalf("got %q, want the next notice", m.Text)
	}
}

func TestEventsGoroutineEndsWhenNobodyReads(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(*testing.T, *Session)
	}{
		{"closed", func(_ *testing.T, s *Session) {
			for i := range 3 {
				s.Notice(fmt.Sprint(i))
			}
			s.Close("")
		}},
		{"dropped", func(t *testing.T, s *Session) { // the queue fills while the goroutine waits
			// It holds up to eventsBatch, the queue 5: one more ends it.
			for i := range eventsBatch + 5 + 1 {
				s.Notice(fmt.Sprint(i))
			}
			select {
			case <-s.Done():
			default:
				t.Fatal("the queue overflowed but the session was not dropped")
			}
		}},
		{"empty", func(_ *testing.T, s *Session) { s.Close("") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t, Config{QueueSize: 5})
			h.eventsGrace = 20 * time.Millisecond
			s := connect(t, h, "id-s", "s")
			drainQueued(s)
			ch, label := labelledEvents(t, s) // then never read, until the end
			if eventsGoroutines(label) != 1 {
				t.Fatalf("%d Events goroutines, want 1", eventsGoroutines(label))
			}
			tc.end(t, s)
			eventsGoroutineEnds(t, label)
			if _, ok := <-ch; ok {
				t.Fatal("Events still delivers after its goroutine gave up")
			}
			if n, _, ring := queued(s); n != 0 || ring != 0 {
				t.Fatalf("%d messages are still queued in a ring of %d", n, ring)
			}
		})
	}
}

// TestReadyAndTryReceive: a transport can wait on Ready in its own loop and
// take what is queued without blocking; the end is reported after the
// last message.
func TestReadyAndTryReceive(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "a", "alice")
	bob := connect(t, h, "b", "bob")
	// Drain what connecting queued (joins), without waiting.
	for {
		msgs, ok := bob.TryReceive(nil, 512)
		if !ok {
			t.Fatal("bob's session ended")
		}
		if len(msgs) == 0 {
			break
		}
	}
	send(t, alice, "one")
	send(t, alice, "two")
	var got []string
	deadline := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case <-bob.Ready():
		case <-deadline:
			t.Fatalf("Ready was not signalled; got %q", got)
		}
		msgs, ok := bob.TryReceive(nil, 1) // one at a time: Ready must come again for the rest
		if !ok {
			t.Fatal("ended early")
		}
		for _, m := range msgs {
			if m.Kind == KindChat {
				got = append(got, m.Text)
			}
		}
	}
	if got[0] != "one" || got[1] != "two" {
		t.Fatalf("got %q, want one, two in order", got)
	}
	bob.Close(ReasonQuit)
	for {
		select {
		case <-bob.Ready():
		case <-deadline:
			t.Fatal("the end was not signalled")
		}
		if _, ok := bob.TryReceive(nil, 512); !ok {
			return
		}
	}
}

// TestOnEndIsCalledOnceWhenTheSessionEnds, or at once when it has.
func TestOnEndIsCalledOnceWhenTheSessionEnds(t *testing.T) {
	h := newHub(t, Config{})
	s := connect(t, h, "a", "alice")
	calls := make(chan struct{}, 2)
	s.OnEnd(func() { calls <- struct{}{} })
	select {
	case <-calls:
		t.Fatal("called before the end")
	default:
	}
	s.Close(ReasonQuit)
	<-s.Done()
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("not called at the end")
	}
	s.OnEnd(func() { calls <- struct{}{} }) // already ended: at once
	select {
	case <-calls:
	default:
		t.Fatal("not called at once after the end")
	}
}

// TestARoomMessageIsSharedByItsReceivers: a message fanned out to a room
// is one value that every receiver's queue points to, not a copy each;
// TryReceive still hands out copies that are the receiver's to change.
func TestARoomMessageIsSharedByItsReceivers(t *testing.T) {
	h := newHub(t, Config{})
	ann, ben := connect(t, h, "a", "ann"), connect(t, h, "b", "ben")
	// Empty both queues (joins), then send one chat.
	sharedChat := func(s *Session) *Message {
		t.Helper()
		deadline := time.Now().Add(waitFor)
		for time.Now().Before(deadline) {
			<-s.Ready()
			msgs, ok := s.TryReceiveShared(nil, 100)
			if !ok {
				t.Fatalf("session of %s ended", s.ID())
			}
			for _, m := range msgs {
				if m.Kind == KindChat {
					return m
				}
			}
		}
		t.Fatalf("no chat for %s within %v", s.ID(), waitFor)
		return nil
	}
	if err := ann.Send(context.Background(), "hello both"); err != nil {
		t.Fatal(err)
	}
	a, b := sharedChat(ann), sharedChat(ben)
	if a != b || a.Text != "hello both" {
		t.Fatalf("ann and ben got %p %q and %p %q, want one shared message", a, a.Text, b, b.Text)
	}
	if err := ben.Send(context.Background(), "again"); err != nil {
		t.Fatal(err)
	}
	m := expectChat(t, ann, "ben", "again")
	m.Text = "changed by ann"
	if got := expectChat(t, ben, "ben", "again"); got.Text != "again" {
		t.Fatalf("a copy from Events changed what ben received: %q", got.Text)
	}
}
