package web

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"parley/room"
)

// pageList is the member list of one room as the page keeps it: the last
// whole list, with the single-entry changes since applied the way app.js
// applies them (updateMember).
type pageList struct {
	members []memberJSON
	wholes  int // members frames seen
	singles int // member frames seen
}

func (p *pageList) apply(f rawFrame) {
	switch f.Type {
	case typeMembers:
		p.members = slices.Clone(f.Members)
		p.wholes++
	case typeMember:
		id := f.ID
		if !f.Gone {
			id = f.Member.ID
		}
		p.members = slices.DeleteFunc(p.members, func(m memberJSON) bool { return m.ID == id })
		if !f.Gone {
			p.members = append(p.members, *f.Member)
		}
		slices.SortStableFunc(p.members, func(a, b memberJSON) int {
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		})
		p.singles++
	}
}

func (p *pageList) String() string {
	var b strings.Builder
	for _, m := range p.members {
		fmt.Fprintf(&b, "%s(%s,away=%q,n=%d) ", m.Name, m.ID, m.Away, m.Sessions)
	}
	return b.String()
}

// sameList reports whether the page's list is the hub's.
func sameList(page []memberJSON, hub []room.MemberInfo) bool {
	return slices.Equal(page, toMembers(hub))
}

// follow reads frames into the page's list of the lobby until it equals the
// hub's list and done says the changes expected have been seen.
func follow(t *testing.T, e *env, ws *wsClient, p *pageList, what string, done func(*pageList) bool) {
	t.Helper()
	ws.waitFrame(what, func(f rawFrame) bool {
		if f.Room == "lobby" {
			p.apply(f)
		}
		return (f.Type == typeMembers || f.Type == typeMember) && done(p) && sameList(p.members, e.hub.Members("lobby"))
	})
}

// A person arriving, going away, coming back and leaving changes one entry
// of the list each time: the page gets that entry (or its removal), not the
// whole list, so that a room of a thousand does not cost each page a
// thousand entries per arrival; and the list it keeps is the hub's.
func TestMemberListChangesComeOneEntryAtATime(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	b := e.browser()
	b.signIn(aliceID)
	ws := b.connect()
	var p pageList
	follow(t, e, ws, &p, "the first list", func(p *pageList) bool { return p.wholes == 1 && len(p.members) == 2 })

	carol := e.hubSession("SHA256:carol", "carol")
	follow(t, e, ws, &p, "carol arriving", func(p *pageList) bool { return len(p.members) == 3 })
	if err := bob.Send(t.Context(), "/away lunch"); err != nil {
		t.Fatal(err)
	}
	follow(t, e, ws, &p, "bob away", func(p *pageList) bool {
		return slices.ContainsFunc(p.members, func(m memberJSON) bool { return m.Away == "lunch" })
	})
	carol.Close(room.ReasonQuit)
	follow(t, e, ws, &p, "carol gone", func(p *pageList) bool { return len(p.members) == 2 })
	if p.wholes != 1 || p.singles < 3 {
		t.Fatalf("the page got %d whole lists and %d single entries after the first list; want 1 and at least 3 (list: %s)", p.wholes, p.singles, &p)
	}
}

// A burst of arrivals and departures, delivered in whatever batches the
// page's writer takes them, leaves the page with the hub's list, whether
// it came entry by entry or whole.
func TestMemberListStaysTrueThroughABurst(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	b := e.browser()
	b.signIn(aliceID)
	ws := b.connect()
	var p pageList
	follow(t, e, ws, &p, "the first list", func(p *pageList) bool { return len(p.members) == 1 })
	var sessions []*room.Session
	for i := range 60 {
		sessions = append(sessions, e.hubSession(fmt.Sprintf("SHA256:p%02d", i), fmt.Sprintf("P%02d", i)))
	}
	for _, s := range sessions[:25] {
		s.Close(room.ReasonQuit)
	}
	follow(t, e, ws, &p, "the burst", func(p *pageList) bool { return len(p.members) == 36 })
	t.Logf("after the burst: %d whole lists, %d single entries", p.wholes, p.singles)
}
