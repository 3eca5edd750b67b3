package tui

import (
	"context"
	"strings"
	"testing"

	"parley/room"
)

// On a node of a cluster, a screen also receives its own person's leave
// lines from the room's stream (their sessions on another node ended, or
// they left there): such a numbered line never drops the room from this
// screen, and the hub's own notice that they left, arriving after it or
// twice, never makes the room's view again. Issue 15 (memberships across
// nodes).
func TestOwnLeaveLineFromAnotherNodeKeepsTheRoom(t *testing.T) {
	hub, err := room.New(room.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close(context.Background(), "") })
	as, err := hub.Connect(context.Background(), room.Identity{ID: "id-alice", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	am := New(as, Options{Width: 100, Height: 30})
	if res := am.enter("/join #ops")().(sentMsg); res.err != nil {
		t.Fatal(res.err)
	}
	pump(t, am, as, func(s string) bool { return strings.HasPrefix(s, " #ops ") && strings.Contains(s, "alice joined #ops") })

	am.Update(eventsMsg{msgs: []room.Message{{Seq: 99, Room: "ops", Kind: room.KindLeave, From: "alice", FromID: "id-alice"}}})
	if s := strings.Join(screen(am), "\n"); !strings.HasPrefix(s, " #ops ") || !strings.Contains(s, "alice joined #ops") {
		t.Fatalf("a leave line of alice's from another node dropped #ops from her screen:\n%s", s)
	}

	other, err := hub.Connect(context.Background(), room.Identity{ID: "id-alice", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Send(context.Background(), "/leave #ops"); err != nil { // her other screen
		t.Fatal(err)
	}
	noOps := func(s string) bool { return !strings.Contains(strings.SplitN(s, "\n", 2)[0], "#ops") }
	pump(t, am, as, noOps)
	// The same notice again (the hub's, after the stream's line): no view is made again.
	am.Update(eventsMsg{msgs: []room.Message{{Room: "ops", Kind: room.KindLeave, From: "alice", FromID: "id-alice"}}})
	if s := strings.Join(screen(am), "\n"); !noOps(s) {
		t.Fatalf("#ops is back on alice's screen after she left it:\n%s", s)
	}
}
