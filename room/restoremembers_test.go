package room

import (
	"context"
	"fmt"
	"testing"
)

// A person is restored into a room this hub has not opened when the
// shared RoomStore knows it (made on another node after this hub started):
// the room is opened at connect. A room the store knows nothing of, or
// that was removed, is not opened, and a private room is entered only by
// those it admits. Issue 15 (memberships across nodes).
func TestConnectOpensSavedRoomsMadeElsewhere(t *testing.T) {
	rs := NewMemoryRooms()
	h := newHub(t, Config{Rooms: rs})
	ctx := context.Background()
	// What another node stored after this hub started.
	for name, a := range map[string]RoomAccess{
		"dev":   {Creator: "id-other"},
		"gone":  {Creator: "id-other", Removed: true},
		"board": {Private: true, Creator: "id-other", Invited: []string{"id-other"}},
	} {
		if err := rs.SetRoomAccess(ctx, name, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"dev", "gone", "board", "nowhere"} {
		if err := rs.SetMembership(ctx, "id-carol", name, true); err != nil {
			t.Fatal(err)
		}
	}
	carol := connect(t, h, "id-carol", "carol")
	var got []string
	for _, r := range carol.Rooms() {
		got = append(got, r.Name)
	}
	if fmt.Sprint(got) != "[dev lobby]" {
		t.Fatalf("carol's rooms = %v, want dev (opened for her) and lobby", got)
	}
	for _, r := range h.RoomsFor("id-root", true) {
		if r.Name == "gone" || r.Name == "nowhere" {
			t.Errorf("#%s was opened by a restore", r.Name)
		}
	}
}
