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

// roomsOf lists the rooms a session is in.
func roomsOf(s *Session) string {
	var out []string
	for _, r := range s.Rooms() {
		out = append(out, r.Name)
	}
	return fmt.Sprint(out)
}

// A /join or /leave made on another node moves every screen of that
// person here, as one made here would, without a join or leave line of
// its own; a room its access does not admit is not entered, and someone
// not connected here is left alone. Issue 15 (memberships across nodes).
func TestMembershipsChangedMovesEveryScreen(t *testing.T) {
	rs := NewMemoryRooms()
	h := newHub(t, Config{Rooms: rs})
	ctx := context.Background()
	for name, a := range map[string]RoomAccess{
		"dev":   {Creator: "id-other"},
		"board": {Private: true, Creator: "id-other", Invited: []string{"id-other"}},
	} {
		if err := rs.SetRoomAccess(ctx, name, a); err != nil {
			t.Fatal(err)
		}
	}
	one := connect(t, h, "id-carol", "carol")
	two := connect(t, h, "id-carol", "carol")
	if n := h.MembershipsChanged(ctx, "id-carol", []string{"dev", "board"}, nil); n != 1 {
		t.Fatalf("MembershipsChanged entered %d rooms, want 1 (#dev; #board is private)", n)
	}
	for _, s := range []*Session{one, two} {
		if got := roomsOf(s); got != "[dev lobby]" {
			t.Fatalf("carol's rooms after a /join #dev elsewhere = %s, want dev, lobby", got)
		}
	}
	if n := h.MembershipsChanged(ctx, "id-carol", nil, []string{"dev"}); n != 1 {
		t.Fatalf("MembershipsChanged left %d rooms, want 1", n)
	}
	for _, s := range []*Session{one, two} {
		until(t, s, func(m Message) bool { return m.Kind == KindLeave && m.Room == "dev" })
		if got := roomsOf(s); got != "[lobby]" {
			t.Fatalf("carol's rooms after a /leave #dev elsewhere = %s, want lobby", got)
		}
	}
	if n := h.MembershipsChanged(ctx, "id-carol", nil, []string{"lobby"}); n != 0 {
		t.Fatalf("carol's last room was left (%d)", n)
	}
	if n := h.MembershipsChanged(ctx, "id-nobody", []string{"dev"}, nil); n != 0 {
		t.Fatalf("someone not connected here was moved (%d)", n)
	}
}
