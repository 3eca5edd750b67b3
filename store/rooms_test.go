package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"parley/room"
)

// Room access and memberships are durable: they come back from a reopened
// file, and a room with messages but no stored access reads as not found
// (the room package then keeps it closed). Issue 18 item 1, issue 13 items
// 3 and 4.
func TestRoomAccessAndMembershipsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, "board", 1, 3, 3) // history first, as an old parley left it
	fill(t, s, "dev", 1, 2, 2)
	_, found, err := s.RoomAccess(ctx, "board")
	if err != nil || found {
		t.Fatalf("access of a room with history only: found %v, %v; want not found", found, err)
	}
	board := room.RoomAccess{Private: true, Creator: "SHA256:root", Invited: []string{"SHA256:root", "SHA256:bob"}}
	if err := s.SetRoomAccess(ctx, "board", board); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoomAccess(ctx, "old", room.RoomAccess{Removed: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoomAccess(ctx, "empty", room.RoomAccess{Creator: "SHA256:bob"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range [][2]string{{"SHA256:bob", "dev"}, {"SHA256:bob", "board"}, {"SHA256:carol", "dev"}} {
		if err := s.SetMembership(ctx, m[0], m[1], true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetMembership(ctx, "SHA256:carol", "dev", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	var a room.RoomAccess
	a, found, err = s.RoomAccess(ctx, "board")
	if err != nil || !found || fmt.Sprint(a) != fmt.Sprint(room.RoomAccess{Private: true, Creator: "SHA256:root", Invited: []string{"SHA256:bob", "SHA256:root"}}) {
		t.Errorf("access of #board after reopen = %+v, %v, %v", a, found, err)
	}
	if rooms, err := s.StoredRooms(ctx); err != nil || fmt.Sprint(rooms) != "[board dev empty]" {
		t.Errorf("StoredRooms = %v, %v; want board, dev, empty (not the removed one)", rooms, err)
	}
	if rooms, err := s.Memberships(ctx, "SHA256:bob"); err != nil || fmt.Sprint(rooms) != "[board dev]" {
		t.Errorf("bob's rooms = %v, %v", rooms, err)
	}
	if rooms, err := s.Memberships(ctx, "SHA256:carol"); err != nil || len(rooms) != 0 {
		t.Errorf("carol left #dev but has %v, %v", rooms, err)
	}
	// Revoking an invitation replaces the list; removing a room forgets its members.
	board.Invited = []string{"SHA256:root"}
	if err := s.SetRoomAccess(ctx, "board", board); err != nil {
		t.Fatal(err)
	}
	if a, _, _ := s.RoomAccess(ctx, "board"); fmt.Sprint(a.Invited) != "[SHA256:root]" {
		t.Errorf("invited after revoking bob = %v", a.Invited)
	}
	if err := s.DropMemberships(ctx, "board"); err != nil {
		t.Fatal(err)
	}
	if rooms, _ := s.Memberships(ctx, "SHA256:bob"); fmt.Sprint(rooms) != "[dev]" {
		t.Errorf("bob's rooms after #board was dropped = %v", rooms)
	}
	if err := s.SetMembership(ctx, "", "dev", true); err == nil {
		t.Error("a membership without an identity was stored")
	}
}
