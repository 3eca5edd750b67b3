package room

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// remoteLog is a Log shared by several hubs as a log in another process
// would be: it keeps every Record, and each subscription is fed by its own
// goroutine, after Append has returned, never from inside it. It can be
// told to refuse a batch, or to commit one and still report a failure (a
// timeout after the commit), so that the hub appends it again.
type remoteLog struct {
	mu   sync.Mutex
	recs map[string][]Record // by room; Seq i+1 at index i
	subs map[string][]chan struct{}
	// refuse and ghost, if set, are asked about each batch: refuse fails it
	// without committing, ghost commits it and then fails. Each is cleared
	// once it answered true.
	refuse, ghost func([]Record) bool
}

var errRemoteDown = errors.New("remote log: unavailable")

func newRemoteLog() *remoteLog {
	return &remoteLog{recs: make(map[string][]Record), subs: make(map[string][]chan struct{})}
}

func (l *remoteLog) Append(ctx context.Context, room string, recs []Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refuse != nil && l.refuse(recs) {
		l.refuse = nil
		return errRemoteDown
	}
	for i := range recs {
		recs[i].Seq = uint64(len(l.recs[room]) + 1)
		l.recs[room] = append(l.recs[room], recs[i])
	}
	for _, wake := range l.subs[room] {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	if l.ghost != nil && l.ghost(recs) {
		l.ghost = nil
		return errRemoteDown
	}
	return nil
}

func (l *remoteLog) Subscribe(room string, after uint64, deliver func([]Record)) (func(), error) {
	wake, quit, done := make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	wake <- struct{}{}
	l.mu.Lock()
	l.subs[room] = append(l.subs[room], wake)
	l.mu.Unlock()
	go func() {
		defer close(done)
		next := after
		for {
			select {
			case <-wake:
			case <-quit:
				return
			}
			l.mu.Lock()
			var batch []Record
			if all := l.recs[room]; uint64(len(all)) > next {
				batch = append(batch, all[next:]...)
			}
			l.mu.Unlock()
			if len(batch) > 0 {
				deliver(batch)
				next = batch[len(batch)-1].Seq
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }, nil
}

// count returns how many Records of room match.
func (l *remoteLog) count(room string, match func(Record) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs[room] {
		if match(r) {
			n++
		}
	}
	return n
}

var _ Log = (*remoteLog)(nil)

// chatsUntil reads s until it has seen n chat lines and returns them.
func chatsUntil(t *testing.T, s *Session, n int) []Message {
	t.Helper()
	var got []Message
	for len(got) < n {
		if m := next(t, s); m.Kind == KindChat {
			got = append(got, m)
		}
	}
	return got
}

// Two hubs sharing one log are two nodes of a cluster: what is appended
// through one reaches the sessions of the other, every session sees the
// same order (the log's), and a session that connects later is shown the
// other node's messages in its backlog. Issue 14, a log port for rooms.
func TestLogSharedByTwoHubsDeliversToBothInOneOrder(t *testing.T) {
	log := newRemoteLog()
	a := newHub(t, Config{Log: log})
	b := newHub(t, Config{Log: log})

	alice := connect(t, a, "id-alice", "alice")
	send(t, alice, "before bob")
	bob := connect(t, b, "id-bob", "bob")
	found := false
	for _, m := range bob.Backlog() {
		found = found || (m.Kind == KindChat && m.Text == "before bob" && m.From == "alice")
	}
	if !found {
		t.Fatalf("bob's backlog on hub B lacks alice's message from hub A: %+v", bob.Backlog())
	}
	until(t, alice, isChat("before bob"))
	carol := connect(t, a, "id-carol", "carol") // a second session on A

	const each = 30
	var wg sync.WaitGroup
	for _, s := range []*Session{alice, bob} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.Send(context.Background(), fmt.Sprintf("%s %d", s.Name(), i)); err != nil {
					t.Errorf("Send from %s: %v", s.Name(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var seen [][]Message
	for _, s := range []*Session{alice, bob, carol} {
		seen = append(seen, chatsUntil(t, s, 2*each))
	}
	for i, got := range seen {
		last := uint64(0)
		mine := map[string]int{}
		for j, m := range got {
			if m.Seq <= last {
				t.Fatalf("session %d: chat %d has Seq %d after %d", i, j, m.Seq, last)
			}
			last = m.Seq
			if want := fmt.Sprintf("%s %d", m.From, mine[m.From]); m.Text != want {
				t.Fatalf("session %d: chat %d is %q, want %q (a sender's own order)", i, j, m.Text, want)
			}
			mine[m.From]++
			if o := seen[0][j]; o.Seq != m.Seq || o.Text != m.Text {
				t.Fatalf("session %d saw #%d %q where session 0 saw #%d %q", i, m.Seq, m.Text, o.Seq, o.Text)
			}
		}
	}
}

// twoNodes starts two hubs that share one remoteLog, with alice on the
// first (a) and bob on the second, and reads both up to a common line.
func twoNodes(t *testing.T) (log *remoteLog, a *Hub, alice, bob *Session) {
	t.Helper()
	log = newRemoteLog()
	a = newHub(t, Config{Log: log})
	b := newHub(t, Config{Log: log})
	alice = connect(t, a, "id-alice", "alice")
	bob = connect(t, b, "id-bob", "bob")
	syncAll(t, alice, bob)
	return log, a, alice, bob
}

// A message the log refuses is shown on no node, and its sender hears it
// failed: nothing is shown that was not stored.
func TestLogRefusedIsShownNowhere(t *testing.T) {
	log, _, alice, bob := twoNodes(t)

	log.mu.Lock()
	log.refuse = func(recs []Record) bool { return recs[0].Text == "lost" }
	log.mu.Unlock()
	if e := sendErr(t, alice, "lost"); e == nil {
		t.Fatal("a refused message reported no error")
	}
	notReceived(t, alice, alice, bob)
	if n := log.count("lobby", func(r Record) bool { return r.Text == "lost" }); n != 0 {
		t.Fatalf("the log holds the refused message %d times", n)
	}
}

// A join whose Append failed after the log committed it is appended again
// (nobody waits to hear a join failed, so the hub retries it): the log
// holds it twice, but every session, on either node, is shown it once.
func TestLogRetriedAppendIsShownOnce(t *testing.T) {
	log, a, alice, bob := twoNodes(t)

	isDave := func(r Record) bool { return r.Kind == KindJoin && r.From == "dave" }
	log.mu.Lock()
	log.ghost = func(recs []Record) bool { return isDave(recs[0]) }
	log.mu.Unlock()
	connect(t, a, "id-dave", "dave")
	eventually(t, "the join appended twice", func() bool { return log.count("lobby", isDave) == 2 })

	const text = "after the retry" // so after both copies in the log
	send(t, alice, text)
	for _, s := range []*Session{alice, bob} {
		_, before := until(t, s, isChat(text))
		joins := 0
		for _, m := range before {
			if m.Kind == KindJoin && m.From == "dave" {
				joins++
			}
		}
		if joins != 1 {
			t.Errorf("%s was shown dave's join %d times, want once: %+v", s.Name(), joins, before)
		}
	}
}

// The in-process Log numbers after what History holds, delivers a commit to
// every subscriber before Append returns, and gives a subscriber that is
// behind what it missed first, from History.
func TestHistoryLogNumbersDeliversAndCatchesUp(t *testing.T) {
	ctx := context.Background()
	hist := &fakeHistory{}
	if err := hist.Append(ctx, []Message{{Seq: 1, Room: "r", Kind: KindChat, Text: "old"}}); err != nil {
		t.Fatal(err)
	}
	l := NewHistoryLog(hist)
	var first []Record
	stop1, err := l.Subscribe("r", 1, func(recs []Record) { first = append(first, recs...) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop1()
	recs := []Record{{ID: RecordID{Node: 7, N: 1}, Message: Message{Room: "r", Kind: KindChat, Text: "a"}},
		{ID: RecordID{Node: 7, N: 2}, Message: Message{Room: "r", Kind: KindChat, Text: "b"}}}
	if err := l.Append(ctx, "r", recs); err != nil {
		t.Fatal(err)
	}
	if recs[0].Seq != 2 || recs[1].Seq != 3 {
		t.Fatalf("Append numbered %d, %d; want 2, 3 (after History's last)", recs[0].Seq, recs[1].Seq)
	}
	if len(first) != 2 || first[0].Text != "a" || first[1].Seq != 3 || first[1].ID.N != 2 {
		t.Fatalf("subscriber got %+v before Append returned, want a#2, b#3", first)
	}

	var late []Record
	stop2, err := l.Subscribe("r", 2, func(recs []Record) { late = append(late, recs...) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	if len(late) != 1 || late[0].Text != "b" {
		t.Fatalf("a subscriber from 2 was given %+v, want b#3 from History", late)
	}
	hist.failNext(anyBatch)
	if err := l.Append(ctx, "r", []Record{{Message: Message{Room: "r", Kind: KindChat, Text: "refused"}}}); err == nil {
		t.Fatal("Append succeeded though History refused")
	}
	if err := l.Append(ctx, "r", []Record{{Message: Message{Room: "r", Kind: KindChat, Text: "c"}}}); err != nil {
		t.Fatal(err)
	}
	if n := len(first); n != 3 || first[2].Seq != 4 || first[2].Text != "c" {
		t.Fatalf("after a refused batch the first subscriber has %+v, want c#4 next", first)
	}
	if n := len(late); n != 2 || late[1].Seq != 4 {
		t.Fatalf("the late subscriber has %+v, want c#4 next", late)
	}
}
