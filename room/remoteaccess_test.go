package room

import (
	"strings"
	"testing"
)

// A room made private on another node (its access changed in a shared
// RoomStore) takes out, on this hub, whoever is in it and not invited,
// tells them why, and refuses them when they try again; the invited stay.
// Issue 15 (Access).
func TestAccessChangedTakesOutTheUninvited(t *testing.T) {
	h := newHub(t, Config{})
	carol := connect(t, h, "id-carol", "carol")
	dave := connect(t, h, "id-dave", "dave")
	send(t, carol, "/join #plan")
	send(t, dave, "/join #plan")
	if n := len(h.Members("plan")); n != 2 {
		t.Fatalf("#plan has %d members, want 2", n)
	}

	if n := h.AccessChanged("plan", RoomAccess{Private: true, Creator: "id-other", Invited: []string{"id-carol"}}); n != 1 {
		t.Fatalf("AccessChanged took %d people out, want 1 (dave)", n)
	}
	m, _ := until(t, dave, func(m Message) bool { return m.Kind == KindNotice && strings.Contains(m.Text, "#plan") })
	if !strings.Contains(m.Text, "made private") {
		t.Errorf("dave was told %q, want why he left #plan", m.Text)
	}
	var ids []string
	for _, mi := range h.Members("plan") {
		ids = append(ids, mi.ID)
	}
	if len(ids) != 1 || ids[0] != "id-carol" {
		t.Fatalf("#plan members after it was made private: %v, want carol only", ids)
	}
	if e := sendErr(t, dave, "/join #plan"); !strings.Contains(e.Error(), "private") {
		t.Errorf("dave's /join #plan: %v, want a refusal of a private room", e)
	}
	send(t, carol, "still here") // carol, invited, posts in #plan as before

	// Opened again elsewhere: dave may come back.
	h.AccessChanged("plan", RoomAccess{Private: false, Creator: "id-other"})
	send(t, dave, "/join #plan")
}

// A room removed on another node is removed here when nobody is in it
// here, and stays (with the access given) while someone is.
func TestAccessChangedRemovesAnEmptyRoom(t *testing.T) {
	h := newHub(t, Config{})
	carol := connect(t, h, "id-carol", "carol")
	send(t, carol, "/join #old")
	send(t, carol, "/join #busy")
	send(t, carol, "/leave #old")
	listed := func(name string) bool {
		for _, r := range h.RoomsFor("id-root", true) {
			if r.Name == name {
				return true
			}
		}
		return false
	}
	if !listed("old") || !listed("busy") {
		t.Fatal("#old and #busy are not listed before the removal")
	}
	h.AccessChanged("old", RoomAccess{Creator: "id-carol", Removed: true})
	h.AccessChanged("busy", RoomAccess{Creator: "id-carol", Removed: true})
	if listed("old") {
		t.Error("#old, empty here and removed elsewhere, is still listed")
	}
	if !listed("busy") {
		t.Error("#busy, removed elsewhere while carol is in it here, was closed under her")
	}
	send(t, carol, "still talking in busy")
}
