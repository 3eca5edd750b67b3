package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"parley/room"
)

// pump feeds the model the session's events until cond holds on the screen.
func pump(t *testing.T, m *Model, s *room.Session, cond func(string) bool) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		all := strings.Join(screen(m), "\n")
		if cond(all) {
			return all
		}
		select {
		case msg, ok := <-s.Events():
			if !ok {
				t.Fatalf("session ended; screen:\n%s", all)
			}
			m.Update(eventsMsg{msgs: []room.Message{msg}})
		case <-deadline:
			t.Fatalf("condition not met; screen:\n%s", all)
		}
	}
}

func TestTwoRoomsNeverCrossAndCountUnread(t *testing.T) {
	hub, err := room.New(room.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close(context.Background(), "") })
	ctx := context.Background()
	as, err := hub.Connect(ctx, room.Identity{ID: "id-alice", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := hub.Connect(ctx, room.Identity{ID: "id-bob", Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	am := New(as, Options{Width: 100, Height: 30})
	pump(t, am, as, func(s string) bool { return strings.Contains(s, "bob joined") })

	cmd := am.enter("/join #ops")
	if cmd == nil {
		t.Fatal("/join was not sent")
	}
	if res := cmd().(sentMsg); res.err != nil { // the send, run here instead of by a program
		t.Fatal(res.err)
	}
	pump(t, am, as, func(s string) bool { return strings.HasPrefix(s, " #ops ") && strings.Contains(s, "alice joined #ops") })

	if err := as.Send(ctx, "secret plans in ops"); err != nil {
		t.Fatal(err)
	}
	pump(t, am, as, func(s string) bool { return strings.Contains(s, "secret plans in ops") })
	if err := bs.Send(ctx, "lobby chatter"); err != nil {
		t.Fatal(err)
	}
	all := pump(t, am, as, func(s string) bool { return strings.Contains(s, "#lobby (1)") })
	if strings.Contains(all, "lobby chatter") {
		t.Fatalf("a lobby message showed in #ops:\n%s", all)
	}

	am.Update(tea.KeyPressMsg{Code: 'n', Mod: tea.ModCtrl})
	all = strings.Join(screen(am), "\n")
	if !strings.HasPrefix(all, " #lobby ") || !strings.Contains(all, "lobby chatter") || strings.Contains(all, "secret plans") {
		t.Fatalf("after Ctrl+N:\n%s", all)
	}
	if strings.Contains(all, "(1)") {
		t.Fatalf("unread count not cleared on switching:\n%s", all)
	}
	if as.Room() != "lobby" {
		t.Fatalf("the session still posts to %q", as.Room())
	}
}
