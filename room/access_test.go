package room

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// oldRooms is a RoomStore over MemoryRooms that also lists rooms that have
// history but no stored access (as a parley from before access was stored
// left them), and can fail to read one room's access.
type oldRooms struct {
	*MemoryRooms
	extra   []string
	failFor string
}

func (o *oldRooms) StoredRooms(ctx context.Context) ([]string, error) {
	names, err := o.MemoryRooms.StoredRooms(ctx)
	return append(names, o.extra...), err
}

func (o *oldRooms) RoomAccess(ctx context.Context, room string) (RoomAccess, bool, error) {
	if room == o.failFor {
		return RoomAccess{}, false, errors.New("disk on fire")
	}
	return o.MemoryRooms.RoomAccess(ctx, room)
}

// A room whose history exists but whose access is unknown is closed to all
// but admins on every path that reads history; an admin decides; a room
// whose access cannot be read is refused. Issue 18 item 1.
func TestRoomOfUnknownAccessIsClosedOnEveryPath(t *testing.T) {
	hist := &fakeHistory{}
	ctx := context.Background()
	for _, room := range []string{"board", "vault"} {
		if err := hist.Append(ctx, []Message{{Seq: 1, Room: room, Kind: KindChat, From: "root", FromID: "id-root", Text: room + "-ONLY secret"}}); err != nil {
			t.Fatal(err)
		}
	}
	rs := &oldRooms{MemoryRooms: NewMemoryRooms(), extra: []string{"board", "vault"}, failFor: "vault"}
	h := newHub(t, Config{History: hist, Rooms: rs})
	root := connectAs(t, h, Identity{ID: "id-root", Name: "root", Admin: true})
	mallory := connect(t, h, "id-mallory", "mallory")

	if e := sendErr(t, mallory, "/join #board"); !strings.Contains(e.msg, "was not recorded") {
		t.Errorf("/join of a room of unknown access: %q", e.msg)
	}
	if msgs, err := mallory.Older(ctx, "board", 100, 10); err == nil || len(msgs) > 0 {
		t.Errorf("Older(board) by a non-member = %v, %v", msgs, err)
	}
	if msgs, err := h.Recent(ctx, "board", "id-mallory", false, 10); err == nil || len(msgs) > 0 {
		t.Errorf("Recent(board) for a non-member = %v, %v", msgs, err)
	}
	if _, err := h.MembersFor("board", "id-mallory", false); err == nil {
		t.Error("MembersFor(board) answers a non-member")
	}
	for _, r := range h.RoomsFor("id-mallory", false) {
		if r.Name == "board" {
			t.Error("RoomsFor lists the room of unknown access to a non-admin")
		}
	}
	if err := mallory.Enter("board"); err == nil {
		t.Error("Enter(board) by a non-admin succeeded")
	}
	// A room whose access cannot be read is refused, never opened.
	if err := mallory.Send(ctx, "/join #vault"); err == nil {
		t.Error("/join of a room whose access cannot be read succeeded")
	}
	if msgs, err := mallory.Older(ctx, "vault", 100, 10); err == nil || len(msgs) > 0 {
		t.Errorf("Older(vault) = %v, %v", msgs, err)
	}
	if err := root.Send(ctx, "/join #vault"); err == nil {
		t.Error("/join of a room whose access cannot be read succeeded, even for an admin")
	}

	// The admin reads it, keeps it private, invites nobody: still closed.
	if msgs, err := h.Recent(ctx, "board", "id-root", true, 10); err != nil || len(msgs) != 1 {
		t.Errorf("Recent(board) for an admin = %v, %v", msgs, err)
	}
	send(t, root, "/room private #board")
	if a, found, _ := rs.RoomAccess(ctx, "board"); !found || !a.Private {
		t.Errorf("stored access after /room private = %+v, found %v", a, found)
	}
	if e := sendErr(t, mallory, "/join #board"); !strings.Contains(e.msg, "is private") {
		t.Errorf("/join of a private room: %q", e.msg)
	}
	// Invited, mallory reads it; the invitation is stored before it applies.
	send(t, root, "/invite mallory")
	if a, _, _ := rs.RoomAccess(ctx, "board"); !strings.Contains(strings.Join(a.Invited, ","), "id-mallory") {
		t.Errorf("stored invited = %v", a.Invited)
	}
	send(t, mallory, "/join #board")
	// The secret is there (joins and notices may be stored beside it).
	msgs, err := mallory.Older(ctx, "board", 100, 10)
	if err != nil || !slices.ContainsFunc(msgs, func(m Message) bool { return m.Text == "board-ONLY secret" }) {
		t.Errorf("Older(board) by an invited member = %v, %v; want the secret", msgs, err)
	}
}

// Memberships are restored when the identity connects again, unless the
// room no longer admits it; /leave forgets them. Issue 13 item 4.
func TestMembershipsRestoredAsAccessAllows(t *testing.T) {
	rs := NewMemoryRooms()
	h := newHub(t, Config{Rooms: rs})
	root := connectAs(t, h, Identity{ID: "id-root", Name: "root", Admin: true})
	send(t, root, "/room private #board") // root made it: invited
	carol := connectAs(t, h, Identity{ID: "id-carol", Name: "carol", Admin: true})
	send(t, carol, "/join #board") // as an admin, not invited
	send(t, carol, "/join #dev")
	send(t, carol, "/join #ops")
	send(t, carol, "/leave #ops")
	carol.Close(ReasonQuit)

	// Back as an admin: in #board and #dev, not #ops.
	again := connectAs(t, h, Identity{ID: "id-carol", Name: "carol", Admin: true})
	want := map[string]bool{"board": true, "dev": true}
	for len(want) > 0 {
		m, _ := until(t, again, isKind(KindEnter))
		if !want[m.Room] {
			t.Fatalf("restored into #%s", m.Room)
		}
		delete(want, m.Room)
	}
	if got := roomNames(again.Rooms()); got != "board,dev,lobby" {
		t.Errorf("rooms after reconnecting = %s", got)
	}
	again.Close(ReasonQuit)

	// No longer an admin: #board is not restored, and is forgotten; #dev is.
	demoted := connectAs(t, h, Identity{ID: "id-carol", Name: "carol"})
	until(t, demoted, func(m Message) bool { return m.Kind == KindEnter && m.Room == "dev" })
	if got := roomNames(demoted.Rooms()); got != "dev,lobby" {
		t.Errorf("rooms of the demoted identity = %s", got)
	}
	demoted.Close(ReasonQuit)
	h.flushWritesForTest(t)
	rooms, _ := rs.Memberships(context.Background(), "id-carol")
	if strings.Join(rooms, ",") != "dev" {
		t.Errorf("stored memberships = %v, want dev only (the revoked one forgotten)", rooms)
	}
	// Root, who made #board, is still admitted.
	root.Close(ReasonQuit)
	back := connectAs(t, h, Identity{ID: "id-root", Name: "root"})
	until(t, back, func(m Message) bool { return m.Kind == KindEnter && m.Room == "board" })
}

// flushWritesForTest waits until the writes queued so far are done.
func (h *Hub) flushWritesForTest(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	h.writes <- func(context.Context) { close(done) }
	<-done
}

func roomNames(rs []RoomInfo) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return strings.Join(out, ",")
}
