package natslog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/natslog"
	"parley/room"
)

// Two hubs, each with its own natslog.Log and connection on one JetStream
// server, are two nodes: what is sent on either reaches every session of
// both, every session sees the same order, and a session that connects
// later on the other node has the earlier message in its backlog. The
// stream holds each message once, numbered without gaps. Issue 15, first
// slice.
func TestTwoNodesShareARoomInOneOrder(t *testing.T) {
	js := startJS(t)
	a, _ := newNode(t, js)
	b, _ := newNode(t, js)

	alice := connect(t, a, "id-alice", "alice")
	send(t, alice, "before bob")
	untilChat(t, alice, "before bob")
	bob := connect(t, b, "id-bob", "bob")
	found := false
	for _, m := range bob.Backlog() {
		found = found || (m.Kind == room.KindChat && m.Text == "before bob" && m.From == "alice")
	}
	if !found {
		t.Fatalf("bob's backlog on node B lacks alice's message from node A: %+v", bob.Backlog())
	}
	carol := connect(t, a, "id-carol", "carol") // a second session on A
	dave := connect(t, b, "id-dave", "dave")    // and on B
	send(t, dave, "ready")
	for _, s := range []*room.Session{alice, bob, carol, dave} {
		untilChat(t, s, "ready")
	}

	const each = 30
	var wg sync.WaitGroup
	for _, s := range []*room.Session{alice, bob} {
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
	var seen [][]room.Message
	for _, s := range []*room.Session{alice, bob, carol, dave} {
		seen = append(seen, chats(t, s, 2*each))
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

	// The stream: 1..last, each number once, each chat once.
	l, _ := newLog(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	last, err := l.History().LastSeq(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	all, err := l.History().Before(ctx, "lobby", 0, int(last))
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]int{}
	for i, m := range all {
		if m.Seq != uint64(i+1) {
			t.Fatalf("stream message %d has Seq %d: a gap or a repeat", i+1, m.Seq)
		}
		if m.Kind == room.KindChat {
			texts[m.Text]++
		}
	}
	if uint64(len(all)) != last || texts["alice 29"] != 1 || texts["bob 0"] != 1 || len(texts) != 2*each+2 {
		t.Fatalf("the stream holds %d messages (last %d), %d distinct chats: %v", len(all), last, len(texts), texts)
	}
}

// rec is a chat Record with an ID, as a hub appends it.
func rec(node, n uint64, text string) room.Record {
	return room.Record{ID: room.RecordID{Node: node, N: n}, Message: room.Message{
		Time: time.Now(), Room: "lobby", Kind: room.KindChat, From: "bot", FromID: "id-bot", Text: text}}
}

// An Append retried with the same IDs, after it was committed (an
// acknowledgement lost to a timeout), is stored once by JetStream and shown
// once on every node, whether the retry is the same batch, one record, or a
// batch that adds a new record to the committed ones; the retry learns the
// sequence numbers the first attempt got.
func TestRetriedAppendIsStoredAndShownOnce(t *testing.T) {
	js := startJS(t)
	b, _ := newNode(t, js)
	bob := connect(t, b, "id-bob", "bob")
	l, _ := newLog(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	const node = 0xfeed

	first := []room.Record{rec(node, 1, "one"), rec(node, 2, "two")}
	if err := l.Append(ctx, "lobby", first); err != nil {
		t.Fatal(err)
	}
	if first[1].Seq != first[0].Seq+1 {
		t.Fatalf("a batch was numbered %d, %d", first[0].Seq, first[1].Seq)
	}
	again := []room.Record{rec(node, 1, "one"), rec(node, 2, "two")}
	if err := l.Append(ctx, "lobby", again); err != nil {
		t.Fatalf("the same batch again: %v", err)
	}
	single := []room.Record{rec(node, 2, "two")}
	if err := l.Append(ctx, "lobby", single); err != nil {
		t.Fatalf("one record again: %v", err)
	}
	mixed := []room.Record{rec(node, 2, "two"), rec(node, 3, "three")}
	if err := l.Append(ctx, "lobby", mixed); err != nil {
		t.Fatalf("a committed record and a new one: %v", err)
	}
	if again[0].Seq != first[0].Seq || again[1].Seq != first[1].Seq || single[0].Seq != first[1].Seq || mixed[0].Seq != first[1].Seq {
		t.Fatalf("retries were numbered %d,%d / %d / %d; the first attempt got %d,%d",
			again[0].Seq, again[1].Seq, single[0].Seq, mixed[0].Seq, first[0].Seq, first[1].Seq)
	}
	if mixed[1].Seq != first[1].Seq+1 {
		t.Fatalf("the new record after the retried ones got %d, want %d", mixed[1].Seq, first[1].Seq+1)
	}
	last, err := l.History().LastSeq(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	if last != mixed[1].Seq {
		t.Fatalf("the stream's last sequence is %d, want %d: a retry was stored twice", last, mixed[1].Seq)
	}

	_, before := untilChat(t, bob, "three")
	count := map[string]int{}
	for _, m := range before {
		count[m.Text]++
	}
	if count["one"] != 1 || count["two"] != 1 {
		t.Fatalf("bob was shown one %d times and two %d times, want once each: %+v", count["one"], count["two"], before)
	}
}

// A node that starts after messages were sent catches up from the stream:
// its first session's backlog holds them, in order, with the numbers the
// first node showed.
func TestLateNodeCatchesUpFromTheStream(t *testing.T) {
	js := startJS(t)
	a, _ := newNode(t, js)
	alice := connect(t, a, "id-alice", "alice")
	var sent []room.Message
	for i := range 5 {
		send(t, alice, fmt.Sprintf("early %d", i))
	}
	for i := range 5 {
		m, _ := untilChat(t, alice, fmt.Sprintf("early %d", i))
		sent = append(sent, m)
	}

	b, _ := newNode(t, js)
	bob := connect(t, b, "id-bob", "bob")
	var got []room.Message
	for _, m := range bob.Backlog() {
		if m.Kind == room.KindChat {
			got = append(got, m)
		}
	}
	if len(got) != len(sent) {
		t.Fatalf("bob's backlog holds %d chats, want %d: %+v", len(got), len(sent), bob.Backlog())
	}
	for i := range sent {
		if got[i].Seq != sent[i].Seq || got[i].Text != sent[i].Text || got[i].From != "alice" {
			t.Fatalf("backlog chat %d is #%d %q from %s, alice saw #%d %q", i, got[i].Seq, got[i].Text, got[i].From, sent[i].Seq, sent[i].Text)
		}
	}
	send(t, alice, "live")
	m, _ := untilChat(t, bob, "live")
	if m.Seq <= sent[len(sent)-1].Seq {
		t.Fatalf("the live message has Seq %d, not after the backlog's %d", m.Seq, sent[len(sent)-1].Seq)
	}
}

// With NATS down, a sender is told at once that the message was "not
// sent, retrying", and nobody is shown it meanwhile; when the server is
// back (same store), the kept message is stored and shown once, in its
// place, on both nodes, with no restart, and sending goes on as before.
// Issue 15, "Failures".
func TestNATSDownSenderToldAndRecoversWithoutRestart(t *testing.T) {
	js := startJS(t)
	a, nca := newNode(t, js)
	b, _ := newNode(t, js)
	alice := connect(t, a, "id-alice", "alice")
	bob := connect(t, b, "id-bob", "bob")
	send(t, alice, "before")
	untilChat(t, bob, "before")
	untilChat(t, alice, "before")

	js.stop()
	eventually(t, "node A to notice NATS is down", func() bool { return !nca.IsConnected() })
	start := time.Now()
	sent := make(chan error, 1)
	go func() { sent <- alice.Send(context.Background(), "during the outage") }()
	var told room.Message
	for told.Kind != room.KindError {
		told = next(t, alice)
		if told.Kind == room.KindChat {
			t.Fatalf("alice was shown %q while NATS was down", told.Text)
		}
	}
	if took := time.Since(start); !strings.Contains(told.Text, "not sent, retrying") || took > 2*time.Second {
		t.Fatalf("with NATS down the sender was told %q after %v, want \"not sent, retrying\" at once", told.Text, took)
	}
	t.Logf("with NATS down, the sender heard %q after %v", told.Text, time.Since(start))
	select {
	case err := <-sent:
		t.Fatalf("Send returned %v while NATS was down, want it to wait for the retry", err)
	default:
	}

	js.start()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("the kept message: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the kept message was not sent after NATS came back")
	}
	send(t, alice, "after")
	for _, s := range []*room.Session{alice, bob} {
		_, before := untilChat(t, s, "after")
		n := 0
		for _, m := range before {
			if m.Kind == room.KindChat && m.Text == "during the outage" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s was shown the kept message %d times before the next one, want once: %+v", s.Name(), n, before)
		}
	}
	send(t, bob, "bob is back too")
	untilChat(t, alice, "bob is back too")
}

// A batch is all or none: when one of its messages cannot be published,
// none of it is stored, and the next Append is numbered right after what
// was there before.
func TestBatchIsAllOrNone(t *testing.T) {
	js := startJS(t)
	l, _ := newLog(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := l.Append(ctx, "lobby", []room.Record{rec(1, 1, "first")}); err != nil {
		t.Fatal(err)
	}
	huge := rec(1, 3, strings.Repeat("x", 2<<20)) // over NATS's max payload
	batch := []room.Record{rec(1, 2, "kept out"), huge, rec(1, 4, "kept out too")}
	if err := l.Append(ctx, "lobby", batch); err == nil {
		t.Fatal("a batch with an unpublishable message was accepted")
	}
	for i, r := range batch {
		if r.Seq != 0 {
			t.Fatalf("record %d of a refused batch has Seq %d", i, r.Seq)
		}
	}
	after := []room.Record{rec(1, 5, "next")}
	if err := l.Append(ctx, "lobby", after); err != nil {
		t.Fatal(err)
	}
	if after[0].Seq != 2 {
		t.Fatalf("the Append after a refused batch got Seq %d, want 2: part of the batch was stored", after[0].Seq)
	}
	msgs, err := l.History().Before(ctx, "lobby", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Text != "first" || msgs[1].Text != "next" {
		t.Fatalf("the stream holds %+v, want first, next", msgs)
	}
}

// Subscribe delivers what follows after, in order, each once, then what
// is appended later; stop ends the deliveries.
func TestSubscribeFromAfter(t *testing.T) {
	js := startJS(t)
	l, _ := newLog(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := l.Append(ctx, "#ops", []room.Record{rec(2, 1, "a"), rec(2, 2, "b"), rec(2, 3, "c")}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []room.Record
	stop, err := l.Subscribe("#ops", 1, func(recs []room.Record) {
		mu.Lock()
		got = append(got, recs...)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, "#ops", []room.Record{rec(2, 4, "d")}); err != nil {
		t.Fatal(err)
	}
	n := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	eventually(t, "b, c and d delivered", func() bool { return n() >= 3 })
	stop()
	if err := l.Append(ctx, "#ops", []room.Record{rec(2, 5, "e")}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"b", "c", "d"}
	if len(got) != len(want) {
		t.Fatalf("delivered %+v, want b, c, d and nothing after stop", got)
	}
	for i, r := range got {
		if r.Text != want[i] || r.Seq != uint64(i+2) || r.ID != (room.RecordID{Node: 2, N: uint64(i + 2)}) || r.Room != "#ops" {
			t.Fatalf("delivery %d is %+v, want %s #%d with its ID", i, r, want[i], i+2)
		}
	}
}

// Room access is not shared yet (this slice): a room made on one node,
// private there, has messages in its stream but no access on the other
// node, which keeps it closed to everyone but admins rather than open it
// on a guess. Its messages never reach a non-admin there.
func TestRoomFromAnotherNodeStaysClosed(t *testing.T) {
	js := startJS(t)
	a, _ := newNode(t, js)
	b, _ := newNode(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	alice, err := a.Connect(ctx, room.Identity{ID: "id-alice", Name: "alice", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"/room private #ops", "/join #ops", "secret plans"} {
		if err := alice.Send(ctx, cmd); err != nil {
			t.Fatalf("alice: %s: %v", cmd, err)
		}
	}
	untilChat(t, alice, "secret plans")
	bob := connect(t, b, "id-bob", "bob")
	err = bob.Send(ctx, "/join #ops")
	var ue *room.Error
	if !errors.As(err, &ue) {
		t.Fatalf("bob joining #ops on node B: %v, want a refusal", err)
	}
	send(t, bob, "bob still in the lobby")
	_, before := untilChat(t, bob, "bob still in the lobby")
	for _, m := range append(before, bob.RoomBacklog("ops")...) {
		if m.Text == "secret plans" {
			t.Fatalf("bob on node B was shown a private room's message: %+v", m)
		}
	}
	t.Logf("bob was told: %s", ue.Error())
}

// Whatever else publishes on a room's subject (a misconfigured client, an
// attacker with NATS rights) cannot reach a terminal with escape
// sequences, nor put a notice or a private message into a room: the text
// is made inert again and such kinds are skipped.
func TestForeignPublishIsMadeInert(t *testing.T) {
	js := startJS(t)
	b, _ := newNode(t, js)
	bob := connect(t, b, "id-bob", "bob")
	send(t, bob, "ready")
	untilChat(t, bob, "ready")

	nc := dial(t, js)
	for _, raw := range []string{
		`{"k":9,"f":"server","x":"a fake notice"}`,
		`{"k":8,"f":"x","x":"a fake private message"}`,
		`not json`,
		`{"k":1,"f":"ev\u001b[2Jil","fi":"id\u001b]0;x\u0007","x":"clear\u001b[2J screen\u202e"}`,
	} {
		if err := nc.Publish(natslog.Subject("lobby"), []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var got room.Message
	for {
		got = next(t, bob)
		if got.Kind == room.KindNotice || got.Kind == room.KindPrivate {
			t.Fatalf("a foreign publish reached bob as %s: %+v", got.Kind, got)
		}
		if got.Kind == room.KindChat && strings.HasPrefix(got.Text, "clear") {
			break
		}
	}
	for _, f := range []string{got.From, got.FromID, got.Text} {
		if strings.ContainsAny(f, "\x1b\x07\u202e") {
			t.Fatalf("a foreign message reached bob with control characters: %q", f)
		}
	}
}
