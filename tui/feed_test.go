package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"parley/room"
)

// TestAFedModelStopsAskingOnceTheSessionEnded: the session's Ready stays
// signalled after its end (for other readers); the model must stop
// offering it, or the runtime's loop would spin (and start a goroutine
// for each tea.Quit it is handed).
func TestAFedModelStopsAskingOnceTheSessionEnded(t *testing.T) {
	h, err := room.New(room.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background(), "test over") })
	s, err := h.Connect(context.Background(), room.Identity{ID: "a", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	m := New(s, Options{Width: 80, Height: 24, Fed: true})
	if m.Init() == nil {
		t.Fatal("Init has no command at all") // it still asks for the background colour
	}
	s.Close(room.ReasonQuit)
	quits := 0
	for i := 0; m.Ready() != nil; i++ {
		if i > 100 {
			t.Fatalf("the model still offers Ready after %d takes (%d quits)", i, quits)
		}
		select {
		case <-m.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("Ready never signalled the end")
		}
		if msg := m.Take(); msg != nil {
			if _, cmd := m.Update(msg); cmd != nil {
				if _, ok := cmd().(tea.QuitMsg); ok {
					quits++
				}
			}
		}
	}
	if quits != 1 {
		t.Errorf("%d quits, want 1", quits)
	}
	if m.Take() != nil {
		t.Error("Take returns something after the end")
	}
}

// TestPresenceRefreshesTheMemberList: someone going away changes the
// member list beside the conversation, and adds no line to it.
func TestPresenceRefreshesTheMemberList(t *testing.T) {
	f := newFake()
	f.members = []room.MemberInfo{{ID: "id-alice", Name: "alice"}, {ID: "id-dan", Name: "dan"}}
	m := newModel(f, 100, 12)
	before := strings.Join(screen(m), "\n")
	if strings.Contains(before, "(away)") {
		t.Fatalf("away before anyone is:\n%s", before)
	}
	f.mu.Lock()
	f.members = []room.MemberInfo{{ID: "id-alice", Name: "alice"}, {ID: "id-dan", Name: "dan", Away: "lunch"}}
	f.mu.Unlock()
	m.Update(eventsMsg{msgs: []room.Message{{Time: t0, Room: "lobby", Kind: room.KindPresence}}})
	after := strings.Join(screen(m), "\n")
	if !strings.Contains(after, "dan (away)") {
		t.Errorf("the member list did not change:\n%s", after)
	}
	if strings.Count(after, "\n") != strings.Count(before, "\n") || strings.Contains(after, "presence") {
		t.Errorf("a presence event drew a line:\n%s", after)
	}
	if !m.Lazy() {
		t.Error("someone else's away mark is not lazy")
	}
}
