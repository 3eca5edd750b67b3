package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"parley/room"
)

// TestHubResumesFromTheStore runs the real room.Hub on the store: what was
// said before a restart is the newcomer's backlog after it, the topic
// survives, and numbering continues without a gap or a repeat.
func TestHubResumesFromTheStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "parley.db")

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := room.New(room.Config{History: s})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := h.Connect(ctx, room.Identity{ID: "SHA256:alice", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := alice.Send(ctx, fmt.Sprintf("hello %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.Send(ctx, "/topic bicycles"); err != nil {
		t.Fatal(err)
	}
	alice.Close(room.ReasonQuit)
	if err := h.Close(ctx, "restart"); err != nil {
		t.Fatal(err)
	}
	last, err := s.LastSeq(ctx, room.DefaultRoom)
	if err != nil || last < 5 { // join, 3 messages, topic (and perhaps a leave)
		t.Fatalf("LastSeq = %d, %v", last, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	h, err = room.New(room.Config{History: s})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx, "")
	bob, err := h.Connect(ctx, room.Identity{ID: "SHA256:bob", Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	for _, m := range bob.Backlog() {
		if m.Kind == room.KindChat {
			said = append(said, m.Text)
		}
	}
	if fmt.Sprint(said) != "[hello 0 hello 1 hello 2]" {
		t.Errorf("backlog after restart: %q", said)
	}
	if got := bob.Topic(); got != "bicycles" {
		t.Errorf("topic after restart: %q", got)
	}
	if err := bob.Send(ctx, "back"); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Before(ctx, room.DefaultRoom, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("history %v is not 1, 2, 3, ...", seqs(msgs))
		}
	}
	if newest := msgs[len(msgs)-1]; newest.Text != "back" || newest.Seq <= last {
		t.Errorf("newest stored message: %+v, want \"back\" after seq %d", newest, last)
	}
}
