package web

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"parley/room"
)

// memHistory is a room.History in memory, for the scrollback tests.
type memHistory struct {
	mu   sync.Mutex
	msgs map[string][]room.Message // by room key, in seq order
}

func (h *memHistory) Append(_ context.Context, msgs []room.Message) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		h.msgs[m.Room] = append(h.msgs[m.Room], m)
	}
	return nil
}

func (h *memHistory) Before(_ context.Context, name string, before uint64, n int) ([]room.Message, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []room.Message
	for _, m := range h.msgs[name] {
		if before == 0 || m.Seq < before {
			out = append(out, m)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return append([]room.Message(nil), out...), nil
}

func (h *memHistory) LastSeq(_ context.Context, name string) (uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ms := h.msgs[name]; len(ms) > 0 {
		return ms[len(ms)-1].Seq, nil
	}
	return 0, nil
}

func TestScrollbackLoadsOlderMessagesUntilTheRoomsStart(t *testing.T) {
	const total = 250
	e := newEnv(t, room.Config{History: &memHistory{msgs: map[string][]room.Message{}}, Backlog: 5})
	bob := e.hubSession(bobID, "bob")
	for i := 1; i <= total; i++ {
		if err := bob.Send(t.Context(), fmt.Sprintf("message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	b := e.signedIn(aliceID, "alice")
	ws := b.connect()
	backlog := ws.waitFrame("backlog", func(f rawFrame) bool { return f.Type == typeBacklog })
	if len(backlog.Messages) == 0 {
		t.Fatal("an empty backlog")
	}
	oldest := backlog.Messages[0].Seq
	var texts []string
	for _, m := range backlog.Messages {
		texts = append(texts, m.Text)
	}
	pages := 0
	for {
		ws.send(inFrame{Type: typeOlder, Room: "lobby", Before: oldest})
		f := ws.waitFrame("older", func(f rawFrame) bool { return f.Type == typeOlder || f.Type == typeError })
		if f.Type == typeError {
			t.Fatalf("older before %d: %s", oldest, f.Text)
		}
		pages++
		if f.Room != "lobby" || f.Before != oldest || len(f.Messages) > olderPage {
			t.Fatalf("older frame room %q before %d with %d messages", f.Room, f.Before, len(f.Messages))
		}
		var page []string
		for i, m := range f.Messages {
			if m.Seq >= oldest || (i > 0 && m.Seq != f.Messages[i-1].Seq+1) {
				t.Fatalf("older page before %d: seq %d out of order", oldest, m.Seq)
			}
			page = append(page, m.Text)
		}
		texts = append(page, texts...)
		if len(f.Messages) > 0 {
			oldest = f.Messages[0].Seq
		}
		if f.Start {
			break
		}
		if pages > 10 {
			t.Fatal("no start after 10 pages")
		}
	}
	// Everything bob said is there once, in order, after the joins.
	var said []string
	for _, s := range texts {
		if len(s) > 8 && s[:8] == "message " {
			said = append(said, s)
		}
	}
	if len(said) != total || said[0] != "message 1" || said[total-1] != fmt.Sprintf("message %d", total) {
		t.Fatalf("scrolled back to %d messages (%q ... %q), want all %d", len(said), said[0], said[len(said)-1], total)
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3 of up to %d", pages, olderPage)
	}

	ws.send(inFrame{Type: typeOlder, Room: "lobby"})
	if f := ws.waitFrame("an error", func(f rawFrame) bool { return f.Type == typeError }); f.Text == "" {
		t.Error("older without before: no reason given")
	}
	ws.send(inFrame{Type: typeOlder, Room: "no-such-room", Before: 10})
	if f := ws.waitFrame("an error", func(f rawFrame) bool { return f.Type == typeError }); f.Text == "" {
		t.Error("older of a room that does not exist: no reason given")
	}

	// A private room's history stays closed to the uninvited.
	root, err := e.hub.Connect(t.Context(), room.Identity{ID: "SHA256:root", Name: "root", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close(room.ReasonQuit) })
	for _, line := range []string{"/room private #vault", "/join #vault", "vault-ONLY secret"} {
		if err := root.Send(t.Context(), line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	ws.send(inFrame{Type: typeOlder, Room: "vault", Before: 1000})
	f := ws.waitFrame("older or an error", func(f rawFrame) bool { return f.Type == typeError || f.Type == typeOlder })
	if f.Type != typeError || strings.Contains(string(f.raw), "secret") {
		t.Fatalf("older of a private room by the uninvited: %s", f.raw)
	}
}
