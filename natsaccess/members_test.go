package natsaccess

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/room"
)

// sharedRooms reads identity id's rooms from the bucket ("-" when it has
// no entry, "!" and the error when it cannot be read).
func (s *Shared) sharedRooms(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := s.members.Get(ctx, keyOf(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "-"
	}
	if err != nil {
		return "! " + err.Error()
	}
	v, err := decodeMembers(e.Key(), e.Value())
	if err != nil {
		return "! " + err.Error()
	}
	return fmt.Sprint(v.Rooms)
}

// roomNames lists the rooms a session is in.
func roomNames(s *room.Session) string {
	var out []string
	for _, r := range s.Rooms() {
		out = append(out, r.Name)
	}
	return fmt.Sprint(out)
}

// connect opens a session of identity id on n's hub, closed when the test
// ends.
func (n *node) connect(t *testing.T, id string) *room.Session {
	t.Helper()
	s, err := n.hub.Connect(context.Background(), room.Identity{ID: id, Name: id})
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { s.Close("test over") })
	return s
}

func send(t *testing.T, s *room.Session, text string) {
	t.Helper()
	if err := s.Send(context.Background(), text); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
}

// The rooms a person joined on one node are theirs when they connect to
// another; a /leave there holds when they come back to the first.
func TestMembershipsFollowAPersonAcrossNodes(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	x := a.connect(t, "id-x")
	send(t, x, "/join #dev")
	send(t, x, "/join #ops")
	eventually(t, "x's rooms published", func() bool { return a.sh.sharedRooms("id-x") == "[dev ops]" })
	x.Close("gone to node B")

	xb := b.connect(t, "id-x")
	if got := roomNames(xb); got != "[dev lobby ops]" {
		t.Fatalf("x's rooms on node B = %s, want dev, lobby, ops", got)
	}
	send(t, xb, "/leave #ops")
	eventually(t, "x's /leave on node B published", func() bool { return b.sh.sharedRooms("id-x") == "[dev]" })
	xb.Close("back to node A")

	xa := a.connect(t, "id-x")
	if got := roomNames(xa); got != "[dev lobby]" {
		t.Fatalf("x's rooms back on node A = %s, want dev, lobby", got)
	}
}

// Two nodes changing one person's rooms at once lose none of the changes:
// each is a compare-and-set on the identity's entry.
func TestConcurrentMembershipChangesLoseNothing(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	stores := []room.RoomStore{a.sh.RoomStore(nil), b.sh.RoomStore(nil)}
	const each = 20
	var want []string
	var wg sync.WaitGroup
	for i, rs := range stores {
		for j := range each {
			name := fmt.Sprintf("r%d-%02d", i, j)
			want = append(want, name)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := rs.SetMembership(context.Background(), "id-y", name, true); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	sort.Strings(want)
	eventually(t, "every room of y published", func() bool {
		return a.sh.ms.waiting() == 0 && b.sh.ms.waiting() == 0 && a.sh.sharedRooms("id-y") == fmt.Sprint(want)
	})
	got, err := stores[1].Memberships(context.Background(), "id-y")
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("y's memberships read on node B: %v, %v; want %v", got, err, want)
	}
}

// listedRooms is a local store that can list all its memberships, as
// store.SQLite can.
type listedRooms struct {
	*room.MemoryRooms
	ids []string
}

func (l *listedRooms) AllMemberships(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	for _, id := range l.ids {
		rooms, err := l.Memberships(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = rooms
	}
	return out, nil
}

// localRooms is a listedRooms holding these memberships (identity, room),
// each room open and made by its member.
func localRooms(t *testing.T, ms ...[2]string) *listedRooms {
	l := &listedRooms{MemoryRooms: room.NewMemoryRooms()}
	for _, m := range ms {
		if err := l.SetRoomAccess(context.Background(), m[1], room.RoomAccess{Creator: m[0]}); err != nil {
			t.Fatal(err)
		}
		if err := l.SetMembership(context.Background(), m[0], m[1], true); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(l.ids, m[0]) {
			l.ids = append(l.ids, m[0])
		}
	}
	return l
}

// The memberships nodes held before they joined the cluster are published
// when each first starts with it, merged with what the others published;
// after that the cluster is the truth: a room left elsewhere does not come
// back from a node's local copy when it restarts.
func TestLocalMembershipsPublishedOnFirstRun(t *testing.T) {
	url := startJS(t)
	dirA := t.TempDir()
	localA := localRooms(t, [2]string{"id-y", "old"})
	a := startNodeWith(t, url, dirA, localA)
	startNodeWith(t, url, t.TempDir(), localRooms(t, [2]string{"id-y", "older"}, [2]string{"id-z", "zed"}))
	if got := a.sh.sharedRooms("id-y"); got != "[old older]" {
		t.Fatalf("y's shared rooms after both nodes' first start = %s, want old and older", got)
	}
	if got := a.sh.sharedRooms("id-z"); got != "[zed]" {
		t.Fatalf("z's shared rooms = %s, want zed", got)
	}
	// y leaves #old on another node (its store, not A's local copy).
	other, err := New(context.Background(), a.sh.nc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.ms.update(context.Background(), "id-y", nil, func(set map[string]bool) { delete(set, "old") }); err != nil {
		t.Fatal(err)
	}
	a.stop()
	a = startNodeWith(t, url, dirA, localA)
	if got := a.sh.sharedRooms("id-y"); got != "[older]" {
		t.Fatalf("y's shared rooms after node A restarted = %s: #old came back from A's local copy", got)
	}
	got, err := a.hub.Connect(context.Background(), room.Identity{ID: "id-y", Name: "y"})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close("test over")
	if rooms := roomNames(got); rooms != "[lobby older]" {
		t.Fatalf("y's rooms on node A = %s, want lobby, older", rooms)
	}
}

// While NATS cannot be reached, a /join into a room the node has open
// works here (and is kept for this node's next connect of that person);
// it is published when NATS is back, and holds on the other node.
func TestMembershipChangedWhileNATSAwayIsPublishedWhenBack(t *testing.T) {
	js := startJSServer(t)
	a, b := startNode(t, js.url(), t.TempDir()), startNode(t, js.url(), t.TempDir())
	w := a.connect(t, "id-w")
	send(t, w, "/join #dev") // #dev open on node A, its access shared
	x := a.connect(t, "id-x")

	js.stop()
	send(t, x, "/join #dev")
	x.Close("reconnecting")
	eventually(t, "node A sees NATS gone", func() bool { return !a.sh.nc.IsConnected() })
	x = a.connect(t, "id-x")
	if got := roomNames(x); got != "[dev lobby]" {
		t.Fatalf("x's rooms on node A while NATS is down = %s, want dev, lobby", got)
	}
	js.start()
	back := time.Now()
	eventually(t, "x's /join made while NATS was down published", func() bool { return b.sh.sharedRooms("id-x") == "[dev]" })
	t.Logf("a /join made while NATS was down published %v after it was back", time.Since(back).Round(time.Millisecond))
	xb := b.connect(t, "id-x")
	if got := roomNames(xb); got != "[dev lobby]" {
		t.Fatalf("x's rooms on node B = %s, want dev, lobby", got)
	}
}

// A /join on one node takes that person's sessions open on the other node
// into the room, and a /leave there takes them out on the first, as on one
// node, where every screen of a person follows.
func TestMembershipChangeReachesOpenSessionsOnTheOtherNode(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	xa, xb := a.connect(t, "id-x"), b.connect(t, "id-x")
	start := time.Now()
	send(t, xa, "/join #dev")
	eventually(t, "x's session on node B in #dev", func() bool { return roomNames(xb) == "[dev lobby]" })
	t.Logf("a /join on A reached the session on B %v later", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	send(t, xb, "/leave #dev")
	eventually(t, "x's session on node A out of #dev", func() bool { return roomNames(xa) == "[lobby]" })
	t.Logf("a /leave on B reached the session on A %v later", time.Since(start).Round(time.Millisecond))
	if got := a.sh.sharedRooms("id-x"); got != "[]" {
		t.Fatalf("x's shared rooms = %s, want none", got)
	}
}

// A room removed on one node (its memberships dropped) is left by the
// people in it on the other node, and is in nobody's shared rooms.
func TestRemovedRoomIsLeftOnEveryNode(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	xb := b.connect(t, "id-x")
	send(t, xb, "/join #old")
	send(t, xb, "/join #dev")
	eventually(t, "x's rooms published", func() bool { return b.sh.sharedRooms("id-x") == "[dev old]" })
	if err := a.sh.RoomStore(nil).DropMemberships(context.Background(), "old"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "x's session on node B out of #old", func() bool { return roomNames(xb) == "[dev lobby]" })
	if got := b.sh.sharedRooms("id-x"); got != "[dev]" {
		t.Fatalf("x's shared rooms after #old was removed = %s, want dev", got)
	}
}
