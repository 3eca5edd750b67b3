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

func TestConnectEachSeesTheOthersJoin(t *testing.T) {
	h := newHub(t, Config{})

	alice := connect(t, h, "id-alice", "alice")
	if got := alice.Backlog(); len(got) != 0 {
		t.Fatalf("first session's backlog = %+v, want empty", got)
	}
	j := expect(t, alice, KindJoin)
	if j.From != "alice" || j.FromID != "id-alice" || j.Seq != 1 || j.Room != DefaultRoom {
		t.Fatalf("alice's own join = %+v, want From alice, FromID id-alice, Seq 1, Room lobby", j)
	}

	bob := connect(t, h, "id-bob", "bob")
	for _, s := range []*Session{alice, bob} {
		j := expect(t, s, KindJoin)
		if j.From != "bob" || j.FromID != "id-bob" || j.Seq != 2 {
			t.Fatalf("session of %s: bob's join = %+v, want From bob, Seq 2", s.ID(), j)
		}
	}
	bl := bob.Backlog()
	if len(bl) != 1 || bl[0].Kind != KindJoin || bl[0].From != "alice" || bl[0].Seq != 1 {
		t.Fatalf("bob's backlog = %+v, want exactly alice's join (Seq 1)", bl)
	}

	members := h.Members(DefaultRoom)
	if len(members) != 2 || members[0].Name != "alice" || members[1].Name != "bob" {
		t.Fatalf("Members = %+v, want alice and bob", members)
	}
	if p, s := h.Online(); p != 2 || s != 2 {
		t.Fatalf("Online = %d people, %d sessions; want 2, 2", p, s)
	}
	if alice.Room() != DefaultRoom || h.DefaultRoom() != DefaultRoom {
		t.Fatalf("Room = %q, DefaultRoom = %q, want %q", alice.Room(), h.DefaultRoom(), DefaultRoom)
	}
}

func TestConnectRequiresID(t *testing.T) {
	h := newHub(t, Config{})
	if _, err := h.Connect(context.Background(), Identity{Name: "nobody"}); err == nil {
		t.Fatal("Connect without an ID succeeded")
	}
}

func TestBacklogIsTheLastMessagesAndEventsContinue(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice") // join: Seq 1
	for i := range 150 {
		send(t, alice, fmt.Sprintf("m%03d", i)) // Seq 2..151
	}

	bob := connect(t, h, "id-bob", "bob")
	bl := bob.Backlog()
	if len(bl) != DefaultBacklog {
		t.Fatalf("backlog has %d messages, want %d", len(bl), DefaultBacklog)
	}
	for i, m := range bl {
		first := 150 - DefaultBacklog // the oldest message in the backlog
		wantSeq := uint64(first + 2 + i)
		wantText := fmt.Sprintf("m%03d", first+i)
		if m.Seq != wantSeq || m.Kind != KindChat || m.Text != wantText || m.From != "alice" {
			t.Fatalf("backlog[%d] = %+v, want chat %q from alice with Seq %d", i, m, wantText, wantSeq)
		}
	}
	// Events continues exactly after the backlog: no gap, no duplicate.
	j := expect(t, bob, KindJoin)
	if j.Seq != 152 || j.From != "bob" {
		t.Fatalf("bob's first event = %+v, want his join with Seq 152", j)
	}
	send(t, alice, "after")
	if m := expectChat(t, bob, "alice", "after"); m.Seq != 153 {
		t.Fatalf("next message has Seq %d, want 153", m.Seq)
	}
	// Backlog is a snapshot: it does not change as the room moves on.
	if got := bob.Backlog(); len(got) != DefaultBacklog || got[len(got)-1].Seq != 151 {
		t.Fatalf("Backlog changed after join: %d messages, last Seq %d", len(got), got[len(got)-1].Seq)
	}
}

func TestConcurrentSendersEveryoneSeesTheSameOrder(t *testing.T) {
	const senders, perSender, receivers = 5, 200, 3
	const total = senders * perSender
	h := newHub(t, Config{QueueSize: 4096})

	type result struct {
		msgs []Message
		err  string
	}
	stop := make(chan struct{})
	defer close(stop)
	results := make([]chan result, receivers)
	for r := range receivers {
		s := connect(t, h, fmt.Sprintf("id-recv%d", r), fmt.Sprintf("recv%d", r))
		results[r] = make(chan result, 1)
		go func(s *Session, out chan<- result) {
			var chats []Message
			for len(chats) < total {
				select {
				case m, ok := <-s.Events():
					if !ok {
						out <- result{chats, "Events closed: " + s.Reason()}
						return
					}
					if m.Kind == KindChat {
						chats = append(chats, m)
					}
				case <-stop:
					return
				}
			}
			out <- result{chats, ""}
		}(s, results[r])
	}

	senderSessions := make([]*Session, senders)
	for i := range senders {
		senderSessions[i] = connect(t, h, fmt.Sprintf("id-send%d", i), fmt.Sprintf("send%d", i))
	}
	errs := make(chan error, senders)
	for i, s := range senderSessions {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for j := range perSender {
				if err := s.Send(ctx, fmt.Sprintf("%d:%03d", i, j)); err != nil {
					errs <- fmt.Errorf("sender %d message %d: %w", i, j, err)
					return
				}
			}
			errs <- nil
		}()
	}
	deadline := time.After(30 * time.Second)
	for range senders {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("senders did not finish within 30s")
		}
	}

	var first []Message
	for r, ch := range results {
		var res result
		select {
		case res = <-ch:
		case <-deadline:
			t.Fatalf("receiver %d did not get %d messages within 30s", r, total)
		}
		if res.err != "" {
			t.Fatalf("receiver %d: %s after %d messages", r, res.err, len(res.msgs))
		}
		got := res.msgs
		want := make([]int, senders)
		for k, m := range got {
			if k > 0 && m.Seq <= got[k-1].Seq {
				t.Fatalf("receiver %d: Seq %d follows %d", r, m.Seq, got[k-1].Seq)
			}
			var i, j int
			if _, err := fmt.Sscanf(m.Text, "%d:%d", &i, &j); err != nil || i < 0 || i >= senders {
				t.Fatalf("receiver %d: unexpected message %+v", r, m)
			}
			if j != want[i] {
				t.Fatalf("receiver %d: sender %d's message %d arrived when %d was expected", r, i, j, want[i])
			}
			if m.From != fmt.Sprintf("send%d", i) {
				t.Fatalf("receiver %d: message %q from %q", r, m.Text, m.From)
			}
			want[i]++
		}
		if first == nil {
			first = got
			continue
		}
		for k := range got {
			if got[k].Seq != first[k].Seq || got[k].Text != first[k].Text {
				t.Fatalf("receiver %d differs from receiver 0 at %d: %d %q vs %d %q",
					r, k, got[k].Seq, got[k].Text, first[k].Seq, first[k].Text)
			}
		}
	}
}

func TestSameIdentityTwoSessions(t *testing.T) {
	h := newHub(t, Config{})
	carol := connect(t, h, "id-carol", "carol")
	expect(t, carol, KindJoin)

	a1 := connect(t, h, "id-alice", "alice")
	if j := expect(t, carol, KindJoin); j.From != "alice" {
		t.Fatalf("carol saw %+v, want alice's join", j)
	}
	expect(t, a1, KindJoin)

	a2 := connect(t, h, "id-alice", "somebody-else")
	if got := a2.Name(); got != "alice" {
		t.Fatalf("second session's name = %q, want alice (the identity's name)", got)
	}
	// No second join: the next thing carol, a1 and a2 see is this line.
	notReceived(t, carol, carol, a1, a2)

	members := h.Members(DefaultRoom)
	if len(members) != 2 {
		t.Fatalf("Members = %+v, want alice once and carol", members)
	}
	if members[0].Name != "alice" || members[0].Sessions != 2 || members[1].Name != "carol" {
		t.Fatalf("Members = %+v, want alice with 2 sessions, then carol", members)
	}
	if p, s := h.Online(); p != 2 || s != 3 {
		t.Fatalf("Online = %d people, %d sessions; want 2, 3", p, s)
	}

	// Both sessions receive messages, from others and from each other.
	send(t, a2, "from the second session")
	for _, s := range []*Session{carol, a1, a2} {
		expectChat(t, s, "alice", "from the second session")
	}

	// Closing one of two sessions is not a leave.
	a1.Close("closed a tab")
	if rest := ended(t, a1); len(rest) != 0 {
		t.Fatalf("a1 had %+v queued, want nothing", rest)
	}
	if a1.Reason() != "closed a tab" {
		t.Fatalf("a1.Reason() = %q", a1.Reason())
	}
	notReceived(t, carol, carol, a2)
	if m := h.Members(DefaultRoom); len(m) != 2 || m[0].Sessions != 1 {
		t.Fatalf("Members after closing one session = %+v, want alice with 1 session", m)
	}

	// Closing the last one is.
	a2.Close("network gone")
	l := expect(t, carol, KindLeave)
	if l.From != "alice" || l.FromID != "id-alice" || l.Text != "network gone" {
		t.Fatalf("carol saw %+v, want alice's leave with reason", l)
	}
	if m := h.Members(DefaultRoom); len(m) != 1 || m[0].Name != "carol" {
		t.Fatalf("Members after alice left = %+v, want carol only", m)
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	const queue, count = 8, 100
	h := newHub(t, Config{QueueSize: queue})
	sender := connect(t, h, "id-sender", "sender")
	reader := connect(t, h, "id-reader", "reader")
	slow := connect(t, h, "id-slow", "slow") // never reads

	var seen []Message // everything the reader saw besides the chat lines
	var chats []string
	for i := range count {
		text := fmt.Sprintf("msg %d", i)
		// Send must not wait for the slow session: if it did, this context
		// would expire and Send would fail.
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		err := sender.Send(ctx, text)
		cancel()
		if err != nil {
			t.Fatalf("Send(%q): %v", text, err)
		}
		// Keep the sender and the reader up to date, so that only the slow
		// session falls behind.
		until(t, sender, isChat(text))
		m, skipped := until(t, reader, func(m Message) bool { return m.Kind == KindChat })
		seen = append(seen, skipped...)
		chats = append(chats, m.Text)
		if m.Text != text {
			t.Fatalf("reader got %q, want %q", m.Text, text)
		}
	}
	if len(chats) != count {
		t.Fatalf("reader saw %d messages, want %d", len(chats), count)
	}

	select {
	case <-slow.Done():
	case <-time.After(waitFor):
		t.Fatal("the slow session was not disconnected")
	}
	if r := slow.Reason(); !strings.Contains(r, "keep up") {
		t.Fatalf("slow session's reason = %q, want it to mention keeping up", r)
	}
	if rest := ended(t, slow); len(rest) > queue {
		t.Fatalf("slow session had %d events queued, more than its queue of %d", len(rest), queue)
	}

	var left *Message
	for i := range seen {
		if seen[i].Kind == KindLeave && seen[i].From == "slow" {
			left = &seen[i]
		}
	}
	if left == nil {
		m, _ := until(t, reader, isKind(KindLeave))
		left = &m
	}
	if left.From != "slow" || !strings.Contains(left.Text, "keep up") {
		t.Fatalf("reader saw leave %+v, want slow's leave mentioning keeping up", *left)
	}
	if _, s := h.Online(); s != 2 {
		t.Fatalf("Online sessions = %d, want 2", s)
	}
}

func TestMessagesAreMadeSafe(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	hostile := "\x1b[31mred\x1b[0m \x1b]0;pwned\x07title \u009b2Jcsi \x1b]52;c;ZXZpbA==\x07clip\rover"
	send(t, alice, hostile)
	m := expect(t, bob, KindChat)
	if hasControl(m.Text) || strings.ContainsRune(m.Text, '\x1b') {
		t.Fatalf("bob received %q: escape or control characters got through", m.Text)
	}
	if !strings.Contains(m.Text, "red") || !strings.Contains(m.Text, "clip") {
		t.Fatalf("bob received %q: the visible text was lost", m.Text)
	}

	send(t, alice, "/me \x1b[2Jwaves\x07")
	if m := expect(t, bob, KindEmote); hasControl(m.Text) || !strings.Contains(m.Text, "waves") {
		t.Fatalf("emote %q: controls got through or text lost", m.Text)
	}
	send(t, alice, "/topic \x1b]0;x\x07topic\ttext")
	if m := expect(t, bob, KindTopic); hasControl(m.Text) || !strings.Contains(m.Text, "topic") {
		t.Fatalf("topic %q: controls got through or text lost", m.Text)
	}
	send(t, alice, "/msg bob \x1b[5mblink\x1b[0m")
	if m := expect(t, bob, KindPrivate); hasControl(m.Text) || !strings.Contains(m.Text, "blink") {
		t.Fatalf("private %q: controls got through or text lost", m.Text)
	}
	send(t, bob, "/away \x1b[31mgone\x07")
	if m := expect(t, bob, KindNotice); hasControl(m.Text) {
		t.Fatalf("away notice %q has controls", m.Text)
	}
	send(t, alice, "/who")
	until(t, alice, isKind(KindPrivate))
	if m := expect(t, alice, KindNotice); hasControl(m.Text) || !strings.Contains(m.Text, "gone") {
		t.Fatalf("/who %q shows controls from an away reason, or lost it", m.Text)
	}

	// A newcomer's backlog is just as clean.
	carol := connect(t, h, "id-carol", "carol")
	expect(t, bob, KindJoin)
	for _, b := range carol.Backlog() {
		if hasControl(b.Text) {
			t.Fatalf("backlog message %+v has controls", b)
		}
	}

	// Nothing visible: refused, not sent.
	if e := sendErr(t, alice, "\x1b\x07\u200b\u202e"); !strings.Contains(e.Error(), "empty") {
		t.Fatalf("empty-after-cleaning error = %q", e.Error())
	}
	notReceived(t, alice, bob)
}

func TestSendOnClosedSession(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	alice.Close("")
	alice.Close("twice") // no effect
	if alice.Reason() != "" {
		t.Fatalf("Reason after double Close = %q, want the first reason", alice.Reason())
	}
	ended(t, alice)
	if err := alice.Send(context.Background(), "hello"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	if got := UserMessage(nil, ErrClosed); got != "the session has ended" {
		t.Fatalf("UserMessage(ErrClosed) = %q", got)
	}
}

func TestHubCloseAnnouncesThenClosesEverySession(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	alice := connect(t, h, "id-alice", "alice")
	a2 := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := h.Close(ctx, "server restarting"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, s := range []*Session{alice, a2, bob} {
		rest := ended(t, s)
		if len(rest) == 0 {
			t.Fatalf("session of %s got nothing before Events closed", s.ID())
		}
		last := rest[len(rest)-1]
		if last.Kind != KindAnnounce || last.Text != "server restarting" {
			t.Fatalf("session of %s: last event %+v, want the announcement", s.ID(), last)
		}
		for _, m := range rest {
			if m.Kind == KindLeave {
				t.Fatalf("session of %s saw a leave during shutdown: %+v", s.ID(), m)
			}
		}
		if s.Reason() != "server restarting" {
			t.Fatalf("Reason = %q", s.Reason())
		}
	}

	if _, err := h.Connect(ctx, Identity{ID: "id-late", Name: "late"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Connect after Close = %v, want ErrClosed", err)
	}
	if err := bob.Send(ctx, "anyone?"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	if err := h.Close(ctx, "again"); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if p, s := h.Online(); p != 0 || s != 0 {
		t.Fatalf("Online after Close = %d, %d", p, s)
	}
}

func TestGoroutinesEndAfterClose(t *testing.T) {
	baseline := runtime.NumGoroutine()

	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	var sessions []*Session
	for i := range 4 {
		s := connect(t, h, fmt.Sprintf("id-%d", i), fmt.Sprintf("user%d", i))
		sessions = append(sessions, s)
		readers.Add(1)
		go func() {
			defer readers.Done()
			for range s.Events() {
			}
		}()
	}
	for i := range 20 {
		send(t, sessions[i%len(sessions)], fmt.Sprintf("line %d", i))
	}
	send(t, sessions[0], "/msg user1 hi")
	sessions[3].Close("")
	if runtime.NumGoroutine() <= baseline {
		t.Fatalf("NumGoroutine did not grow (%d, baseline %d): the test measures nothing", runtime.NumGoroutine(), baseline)
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := h.Close(ctx, "bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	done := make(chan struct{})
	go func() { readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("readers still blocked: some Events channel was not closed")
	}
	eventually(t, fmt.Sprintf("goroutines to return to %d", baseline), func() bool {
		return runtime.NumGoroutine() <= baseline
	})
}

func TestCloseShowsAcceptedMessagesBeforeTheGoodbye(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	send(t, alice, "last words")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := h.Close(ctx, "going down"); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range ended(t, alice) {
		if m.Text == "last words" || m.Kind == KindAnnounce {
			order = append(order, m.Text)
		}
	}
	if len(order) != 2 || order[0] != "last words" || order[1] != "going down" {
		t.Fatalf("saw %q, want the message then the goodbye", order)
	}
	if err := alice.Send(context.Background(), "too late"); err == nil {
		t.Fatal("a message was accepted after Close")
	}
}
