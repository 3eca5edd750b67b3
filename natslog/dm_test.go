package natslog_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"parley/room"
)

// untilPrivate reads s up to the private message text and returns it and
// what came before it.
func untilPrivate(t testing.TB, s *room.Session, text string) (room.Message, []room.Message) {
	t.Helper()
	var before []room.Message
	for {
		m := next(t, s)
		if m.Kind == room.KindPrivate && m.Text == text {
			return m, before
		}
		before = append(before, m)
	}
}

// privates returns the private messages among msgs.
func privates(msgs []room.Message) []room.Message {
	var out []room.Message
	for _, m := range msgs {
		if m.Kind == room.KindPrivate {
			out = append(out, m)
		}
	}
	return out
}

// A private message from a person on node a reaches the recipient's
// sessions on node b and the sender's own sessions on both nodes, once
// each, and no session of anyone else on either node; /reply answers
// across nodes. Issue 15, DMs item 3.
func TestDMAcrossNodes(t *testing.T) {
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	alice := connect(t, a.hub, "id-alice", "alice")
	alice2 := connect(t, b.hub, "id-alice", "alice")
	bob := connect(t, b.hub, "id-bob", "bob")
	carolA := connect(t, a.hub, "id-carol", "carol")
	carolB := connect(t, b.hub, "id-carol", "carol")
	lobbyShows(t, a.hub, map[string]int{"alice": 2, "bob": 1, "carol": 2})

	send(t, alice, "/msg bob psst across nodes")
	got, _ := untilPrivate(t, bob, "psst across nodes")
	if got.FromID != "id-alice" || got.ToID != "id-bob" || got.Seq == 0 {
		t.Fatalf("bob was given %+v", got)
	}
	for _, s := range []*room.Session{alice, alice2} { // the sender's own sessions, on both nodes
		untilPrivate(t, s, "psst across nodes")
	}
	send(t, bob, "/reply and back")
	for _, s := range []*room.Session{alice, alice2, bob} { // bob's own copy too
		untilPrivate(t, s, "and back")
	}

	// Nobody else was shown either, and nobody was shown one twice: all
	// read up to a room line sent after both.
	send(t, alice, "marker")
	for _, s := range []*room.Session{carolA, carolB} {
		if _, before := untilChat(t, s, "marker"); len(privates(before)) > 0 {
			t.Fatalf("carol (%s) was shown a private message between alice and bob: %+v", s.Room(), privates(before))
		}
	}
	for _, s := range []*room.Session{alice, alice2, bob} {
		_, before := untilChat(t, s, "marker")
		if n := len(privates(before)); n != 0 {
			t.Fatalf("%s was shown %d private messages again: %+v", s.Name(), n, privates(before))
		}
	}
}

// A private message to someone not connected anywhere is stored, and shown
// when they next connect, on any node, once. Issue 15, DMs item 3.
func TestDMWaitingDeliveredOnAnyNode(t *testing.T) {
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	alice := connect(t, a.hub, "id-alice", "alice")
	dave := connect(t, a.hub, "id-dave", "dave")
	dave.Close(room.ReasonQuit)
	lobbyShows(t, a.hub, map[string]int{"alice": 1})

	send(t, alice, "/msg dave for later")
	for {
		m := next(t, alice)
		if m.Kind == room.KindNotice && strings.Contains(m.Text, "not connected") {
			break
		}
	}
	dave = connect(t, b.hub, "id-dave", "dave") // on the other node
	m, before := untilPrivate(t, dave, "for later")
	if m.FromID != "id-alice" || len(before) == 0 || !strings.Contains(before[len(before)-1].Text, "1 private message arrived") {
		t.Fatalf("dave on node b was not told of the waiting message: %+v then %+v", before, m)
	}
	dave.Close(room.ReasonQuit)
	eventually(t, "dave's private mark to be saved", func() bool {
		mark, err := b.dms.PrivateMark(context.Background(), "id-dave")
		return err == nil && mark >= m.Seq
	})
	dave = connect(t, a.hub, "id-dave", "dave") // back on the first node: shown it already
	send(t, alice, "marker")
	if _, before := untilChat(t, dave, "marker"); len(privates(before)) > 0 {
		t.Fatalf("dave was shown a private message again on node a: %+v", privates(before))
	}
}

// PrivateBefore returns an identity's newest private messages, sent or
// received, oldest first, and none of anyone else's.
func TestDMPrivateBefore(t *testing.T) {
	js := startJS(t)
	n := newClusterNode(t, js, "a")
	ctx := context.Background()
	var seqs []int64
	for i, pair := range [][2]string{{"id-a", "id-b"}, {"id-b", "id-a"}, {"id-b", "id-c"}, {"id-c", "id-a"}, {"id-a", "id-b"}} {
		id, err := n.dms.AppendPrivate(ctx, room.Message{Kind: room.KindPrivate, FromID: pair[0], From: pair[0], ToID: pair[1], To: pair[1], Text: fmt.Sprint("dm ", i)})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, id)
	}
	got, err := n.dms.PrivateBefore(ctx, "id-a", 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range got {
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, ",") != "dm 1,dm 3,dm 4" {
		t.Fatalf("id-a's newest 3: %q", texts)
	}
	got, err = n.dms.PrivateBefore(ctx, "id-a", seqs[3], 10)
	if err != nil {
		t.Fatal(err)
	}
	texts = texts[:0]
	for _, m := range got {
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, ",") != "dm 0,dm 1" {
		t.Fatalf("id-a's before %d: %q", seqs[3], texts)
	}
	if got, err := n.dms.PrivateBefore(ctx, "id-nobody", 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("an identity with no messages: %v, %v", got, err)
	}
}

// A private message finds someone offline who was only ever on another
// node, by the name they last used there. Issue 15, DMs item 3.
func TestDMToSomeoneOnlyEverOnAnotherNode(t *testing.T) {
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	erin := connect(t, b.hub, "id-erin", "erin")
	erin.Close(room.ReasonQuit)
	alice := connect(t, a.hub, "id-alice", "alice")
	send(t, alice, "/msg erin see you")
	erin = connect(t, a.hub, "id-erin", "erin")
	if m, _ := untilPrivate(t, erin, "see you"); m.FromID != "id-alice" {
		t.Fatalf("erin was given %+v", m)
	}
}
