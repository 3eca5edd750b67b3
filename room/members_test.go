package room

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// freshMembers computes Members without the cache.
func freshMembers(h *Hub, roomName string) []MemberInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[RoomKey(roomName)]
	if r == nil {
		return nil
	}
	out := make([]MemberInfo, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, m.infoLocked())
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// TestMembersListIsSharedAndNeverStale: every change to who is where, or
// to what the list shows of them, is seen by the next Members; while
// nothing changes, callers share one list.
func TestMembersListIsSharedAndNeverStale(t *testing.T) {
	h := newHub(t, Config{})
	check := func(step string) {
		t.Helper()
		for _, r := range []string{"lobby", "side"} {
			got, want := minutes(h.Members(r)), minutes(freshMembers(h, r))
			if len(got) == 0 && len(want) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after %s, #%s: Members = %+v, want %+v", step, r, got, want)
			}
		}
	}
	alice := connect(t, h, "a", "alice")
	check("alice connects")
	bob := connect(t, h, "b", "bob")
	check("bob connects")
	first, second := h.Members("lobby"), h.Members("lobby")
	if &first[0] != &second[0] {
		t.Errorf("two calls without a change built two lists")
	}
	bob2 := connect(t, h, "b", "bob") // a second session: Sessions changes
	check("bob's second session")
	send(t, alice, "hello") // LastActive
	check("alice speaks")
	syncAll(t, alice, bob)
	check("the room settles")
	send(t, bob, "/nick robert")
	check("bob renames")
	syncAll(t, alice, bob)
	check("the room settles")
	send(t, alice, "/away lunch")
	check("alice goes away")
	syncAll(t, alice, bob)
	check("the room settles")
	send(t, alice, "/back")
	check("alice is back")
	syncAll(t, alice, bob)
	check("the room settles")
	send(t, bob, "/join #side")
	check("bob joins #side")
	syncAll(t, bob)
	check("the room settles")
	send(t, bob, "/leave")
	check("bob leaves #side")
	syncAll(t, bob)
	check("the room settles")
	bob2.Close(ReasonQuit)
	ended(t, bob2)
	check("bob closes one session")
	bob.Close(ReasonQuit)
	ended(t, bob)
	check("bob leaves")
	carol := connectAs(t, h, Identity{ID: "c", Name: "carol", Bot: true})
	check("a bot arrives")
	_ = carol
}

// minutes copies list with activity times to the minute: the list shows
// idle time in minutes and is rebuilt only when that can change.
func minutes(list []MemberInfo) []MemberInfo {
	out := append([]MemberInfo(nil), list...)
	for i := range out {
		out[i].LastActive = out[i].LastActive.Truncate(time.Minute)
	}
	return out
}

// TestAwayTellsOthersTheListChanged: going away or coming back changes what
// others' member lists show; they are told with a KindPresence (no line).
func TestAwayTellsOthersTheListChanged(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "a", "alice")
	bob := connect(t, h, "b", "bob")
	syncAll(t, alice, bob)
	send(t, alice, "/away lunch")
	m, _ := until(t, bob, isKind(KindPresence))
	if m.Room != "lobby" || m.Seq != 0 {
		t.Errorf("presence event %+v", m)
	}
	for _, p := range h.Members("lobby") {
		if p.Name == "alice" && p.Away != "lunch" {
			t.Errorf("alice is %+v after /away", p)
		}
	}
	send(t, alice, "/back")
	until(t, bob, isKind(KindPresence))
}

// TestAwayRedrawsTheirOwnList: the person going away sees the mark in
// their own member list too (their screens get the notice and a
// KindPresence naming them); it used to wait for the next change of the
// list.
func TestAwayRedrawsTheirOwnList(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "a", "alice")
	syncAll(t, alice)
	send(t, alice, "/away lunch")
	m, _ := until(t, alice, isKind(KindPresence))
	if m.Room != "lobby" || m.FromID != "a" {
		t.Errorf("alice's own presence event %+v", m)
	}
}

// TestAQuietRoomKeepsItsListWhileOthersChange: people arriving in and
// leaving the lobby do not rebuild the member list of a room none of them
// is in (a crowd moving would otherwise leave each of that room's screens
// holding its own copy of the same list).
func TestAQuietRoomKeepsItsListWhileOthersChange(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "a", "alice")
	send(t, alice, "/join #quiet")
	send(t, alice, "/leave #lobby")
	syncAll(t, alice)
	before := h.Members("quiet")
	bob := connect(t, h, "b", "bob")
	send(t, bob, "hello")
	syncAll(t, bob)
	bob.Close(ReasonQuit)
	ended(t, bob)
	after := h.Members("quiet")
	if len(after) != 1 || &before[0] != &after[0] {
		t.Errorf("#quiet's list was built again (%+v) though nobody in it changed", after)
	}
	if lobby := h.Members("lobby"); len(lobby) != 0 {
		t.Errorf("#lobby lists %+v after bob left", lobby)
	}
}
