package room

import (
	"strings"
	"testing"
)

func TestRoomsKeepTheirOwnMessagesAndOrder(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	send(t, alice, "/join #ops")
	if m := expect(t, alice, KindEnter); m.Room != "ops" {
		t.Fatalf("enter event for %q", m.Room)
	}
	if alice.Room() != "ops" {
		t.Fatalf("alice shows %q after /join", alice.Room())
	}
	if j := expect(t, alice, KindJoin); j.Room != "ops" || j.Seq != 1 {
		t.Fatalf("join in #ops: %+v", j)
	}
	send(t, alice, "in ops only")
	if m := expectChat(t, alice, "alice", "in ops only"); m.Room != "ops" || m.Seq != 2 {
		t.Fatalf("ops message: %+v", m)
	}
	// bob, in the lobby only, never sees it: his next event is the lobby
	// barrier alice posts after switching back.
	if err := alice.Switch("#lobby"); err != nil {
		t.Fatal(err)
	}
	notReceived(t, alice, bob)

	send(t, bob, "/join ops")
	until(t, bob, isKind(KindEnter))
	if got := bob.RoomBacklog("ops"); len(got) != 2 || got[1].Text != "in ops only" {
		t.Fatalf("bob's #ops backlog: %+v", got)
	}
	if j, _ := until(t, alice, isKind(KindJoin)); j.Room != "ops" || j.From != "bob" {
		t.Fatalf("alice did not see bob join #ops: %+v", j)
	}
	if rooms := alice.Rooms(); len(rooms) != 2 || rooms[0].Name != "lobby" || rooms[1].Name != "ops" || rooms[1].People != 2 {
		t.Fatalf("alice's rooms: %+v", rooms)
	}
}

func TestLeaveDropsTheRoomButNeverTheLast(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)
	if e := sendErr(t, alice, "/leave"); !strings.Contains(e.Error(), "last room") {
		t.Fatalf("leaving the last room: %v", e)
	}
	send(t, alice, "/join #dev")
	send(t, bob, "/join #dev")
	until(t, alice, func(m Message) bool { return m.Kind == KindJoin && m.From == "bob" })
	send(t, alice, "/leave")
	if m, _ := until(t, alice, isKind(KindLeave)); m.Room != "dev" || m.FromID != "id-alice" {
		t.Fatalf("alice's screen was not told to drop #dev: %+v", m)
	}
	if alice.Room() != "lobby" {
		t.Fatalf("after leaving, alice shows %q", alice.Room())
	}
	if m, _ := until(t, bob, func(m Message) bool { return m.Kind == KindLeave && m.Room == "dev" }); m.From != "alice" {
		t.Fatalf("bob saw %+v", m)
	}
	if ppl := h.Members("dev"); len(ppl) != 1 || ppl[0].Name != "bob" {
		t.Fatalf("#dev members: %+v", ppl)
	}
}

func TestPrivateRoomRefusesTheUninvited(t *testing.T) {
	h := newHub(t, Config{})
	admin := connectAs(t, h, Identity{ID: "id-root", Name: "root", Admin: true})
	bob := connect(t, h, "id-bob", "bob")
	carol := connect(t, h, "id-carol", "carol")
	syncAll(t, admin, bob, carol)

	if e := sendErr(t, bob, "/room private #ops"); !strings.Contains(e.Error(), "unknown command") {
		t.Fatalf("a non-admin made a private room: %v", e)
	}
	send(t, admin, "/room private #ops")
	if e := sendErr(t, carol, "/join #ops"); !strings.Contains(e.Error(), "private") {
		t.Fatalf("uninvited carol: %v", e)
	}
	send(t, admin, "/invite bob")
	if m, _ := until(t, bob, isKind(KindNotice)); !strings.Contains(m.Text, "invited you to #ops") {
		t.Fatalf("bob's invitation: %q", m.Text)
	}
	send(t, bob, "/join #ops")
	if bob.Room() != "ops" {
		t.Fatal("invited bob could not join")
	}
	send(t, carol, "/rooms")
	if m, _ := until(t, carol, isKind(KindNotice)); strings.Contains(m.Text, "#ops") {
		t.Fatalf("carol's /rooms shows the private room:\n%s", m.Text)
	}
	send(t, bob, "/rooms")
	if m, _ := until(t, bob, isKind(KindNotice)); !strings.Contains(m.Text, "#ops · 2 · private · joined") {
		t.Fatalf("bob's /rooms:\n%s", m.Text)
	}
}

func TestRemoveOnlyEmptyRoomsAndNeverTheLobby(t *testing.T) {
	h := newHub(t, Config{})
	admin := connectAs(t, h, Identity{ID: "id-root", Name: "root", Admin: true})
	expect(t, admin, KindJoin)
	if e := sendErr(t, admin, "/room remove #lobby"); !strings.Contains(e.Error(), "cannot be removed") {
		t.Fatalf("lobby: %v", e)
	}
	send(t, admin, "/join #tmp")
	if e := sendErr(t, admin, "/room remove #tmp"); !strings.Contains(e.Error(), "still has 1") {
		t.Fatalf("occupied room: %v", e)
	}
	send(t, admin, "/leave")
	send(t, admin, "/room remove #tmp")
	send(t, admin, "/rooms")
	if m, _ := until(t, admin, func(m Message) bool { return m.Kind == KindNotice && strings.HasPrefix(m.Text, "Rooms:") }); strings.Contains(m.Text, "#tmp") {
		t.Fatalf("removed room still listed:\n%s", m.Text)
	}
	if e := sendErr(t, admin, "/join #bad name!"); !strings.Contains(e.Error(), "bad room name") {
		t.Fatalf("bad room name: %v", e)
	}
}

func TestAnotherSessionFollowsItsIdentityIntoRooms(t *testing.T) {
	h := newHub(t, Config{})
	laptop := connect(t, h, "id-alice", "alice")
	phone := connect(t, h, "id-alice", "alice")
	send(t, laptop, "/join #dev")
	if m, _ := until(t, phone, isKind(KindEnter)); m.Room != "dev" {
		t.Fatalf("phone entered %q", m.Room)
	}
	if phone.Room() != "lobby" {
		t.Fatalf("the phone's view moved to %q with the laptop's /join", phone.Room())
	}
	// A third session of alice arrives in both rooms.
	tablet := connect(t, h, "id-alice", "alice")
	if m, _ := until(t, tablet, isKind(KindEnter)); m.Room != "dev" {
		t.Fatalf("tablet entered %q", m.Room)
	}
	if got := len(tablet.Rooms()); got != 2 {
		t.Fatalf("tablet is in %d rooms", got)
	}
}
