package natsaccess

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/access"
	"parley/internal/testkit"
	"parley/keys"
	"parley/room"
)

// A ban made on one node is in force on the other (the login path's cache)
// and ends the banned identity's sessions there; an unban lifts it there.
func TestBanOnOneNodeHoldsOnTheOther(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	ctx := context.Background()
	s, err := b.hub.Connect(ctx, room.Identity{ID: "SHA256:bob", Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ctl.Ban(ctx, access.Ban{Fingerprint: "SHA256:bob", Name: "bob", Reason: "spam", ByName: "root"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob banned on node B", func() bool { _, ok := b.ctl.Banned("SHA256:bob"); return ok })
	select {
	case <-s.Done():
	case <-time.After(waitFor):
		t.Fatal("bob's session on node B did not end")
	}
	if why := s.Reason(); !strings.Contains(why, "banned by root") || !strings.Contains(why, "spam") {
		t.Errorf("bob's session ended with %q, want the ban's reason", why)
	}
	if _, ok, err := a.ctl.Unban(ctx, "bob"); !ok || err != nil {
		t.Fatalf("Unban: %v %v", ok, err)
	}
	eventually(t, "bob's ban lifted on node B", func() bool { _, ok := b.ctl.Banned("SHA256:bob"); return !ok })
}

// An invite made on one node opens the other to unknown keys and is
// redeemed there, once.
func TestInviteMadeOnOneNodeIsRedeemedOnTheOther(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	ctx := context.Background()
	if b.ctl.InvitesOpen() {
		t.Fatal("node B says invites are open before any was made")
	}
	code, _, err := a.ctl.CreateInvite(ctx, 1, time.Hour, "SHA256:root", "root")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "node B hears of the invite", b.ctl.InvitesOpen)
	if _, err := b.ctl.Redeem(ctx, code); err != nil {
		t.Fatalf("Redeem on node B: %v", err)
	}
	if _, err := a.ctl.Redeem(ctx, code); !errors.Is(err, access.ErrInvalidInvite) {
		t.Fatalf("second use on node A: %v, want ErrInvalidInvite", err)
	}
	eventually(t, "node A hears the invite is spent", func() bool { return !a.ctl.InvitesOpen() })
}

// The last use of an invite goes to one redemption, however many nodes
// race for it.
func TestLastInviteUseGoesToOneNode(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	code, _, err := a.ctl.CreateInvite(context.Background(), 3, time.Hour, "SHA256:root", "root")
	if err != nil {
		t.Fatal(err)
	}
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		ctl := a.ctl
		if i%2 == 1 {
			ctl = b.ctl
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ctl.Redeem(context.Background(), code); err == nil {
				won.Add(1)
			} else if !errors.Is(err, access.ErrInvalidInvite) {
				t.Errorf("Redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := won.Load(); n != 3 {
		t.Fatalf("%d redemptions of an invite with 3 uses succeeded", n)
	}
}

// A room made private on one node takes the uninvited out of it on the
// other, and the other's later loads of it see the shared access.
func TestRoomMadePrivateOnOneNodeClosesItOnTheOther(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	ctx := context.Background()
	carol, err := b.hub.Connect(ctx, room.Identity{ID: "id-carol", Name: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	dave, err := b.hub.Connect(ctx, room.Identity{ID: "id-dave", Name: "dave"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*room.Session{carol, dave} {
		if err := s.Send(ctx, "/join #plan"); err != nil {
			t.Fatal(err)
		}
	}
	rs := a.sh.RoomStore(nil)
	eventually(t, "#plan's access shared", func() bool { _, found, _ := rs.RoomAccess(ctx, "plan"); return found })
	if err := rs.SetRoomAccess(ctx, "plan", room.RoomAccess{Private: true, Creator: "id-root", Invited: []string{"id-root", "id-carol"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "dave taken out of #plan on node B", func() bool { return len(b.hub.Members("plan")) == 1 })
	if m := b.hub.Members("plan"); m[0].ID != "id-carol" {
		t.Fatalf("#plan on node B has %v, want carol", m)
	}
	if err := dave.Send(ctx, "/join #plan"); err == nil || !strings.Contains(err.Error(), "private") {
		t.Fatalf("dave's /join #plan on node B: %v, want a refusal", err)
	}
}

// A mute made on one node holds on the other, and so does the unmute.
func TestMuteOnOneNodeHoldsOnTheOther(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	a.hub.Mute("id-frank", time.Time{}, "root")
	if err := a.sh.Muted("id-frank", time.Time{}, "root"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "frank muted on node B", func() bool { _, ok := b.hub.Muted("id-frank"); return ok })
	a.hub.Unmute("id-frank", "root")
	if err := a.sh.Unmuted("id-frank", "root"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "frank unmuted on node B", func() bool { _, ok := b.hub.Muted("id-frank"); return !ok })
}

// A kick on one node ends the identity's sessions on the other.
func TestKickOnOneNodeEndsSessionsOnTheOther(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	s, err := b.hub.Connect(context.Background(), room.Identity{ID: "id-bob", Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.sh.Kicked("id-bob", "kicked by root: rude"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(waitFor):
		t.Fatal("bob's session on node B was not kicked")
	}
	if s.Reason() != "kicked by root: rude" {
		t.Errorf("reason %q", s.Reason())
	}
}

// The key set: a key added on one node reaches the other's file, a key
// removed on one goes from the other's; a node that was down takes the
// removals made meanwhile (the key does not come back) and publishes the
// keys added to its own file while it was down.
func TestKeysMergeAcrossNodesAndRestarts(t *testing.T) {
	url := startJS(t)
	k1, k2, k3, k4 := testkit.NewUser(t, "one"), testkit.NewUser(t, "two"), testkit.NewUser(t, "three"), testkit.NewUser(t, "four")
	dirA, dirB := t.TempDir(), t.TempDir()
	writeKeys(t, dirA+"/authorized_keys", k1.Line("admin"), k2.Line(""))
	a := startNode(t, url, dirA)
	b := startNode(t, url, dirB)
	eventually(t, "A's keys on node B", func() bool { return b.has(k1) && b.has(k2) })

	// Added by hand on B while running: on A.
	appendLine(t, b.path, k3.Line(""))
	if _, err := b.ks.Reload(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "key three, added on B, on node A", func() bool { return a.has(k3) })

	// B goes down; A removes two; B's file gains four by hand meanwhile.
	b.stop()
	removeLine(t, a.path, k2.Line(""))
	if _, err := a.ks.Reload(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the removal of two published", func() bool {
		_, found, _ := a.sh.getKey(context.Background(), k2.FP)
		return !found
	})
	appendLine(t, b.path, k4.Line(""))

	b = startNode(t, url, dirB)
	if b.has(k2) {
		t.Error("key two, removed on A while B was down, came back on B")
	}
	if !b.has(k1) || !b.has(k3) || !b.has(k4) {
		t.Errorf("node B after its restart: one %v three %v four %v, want all", b.has(k1), b.has(k3), b.has(k4))
	}
	eventually(t, "key four, added on B while it was down, on node A", func() bool { return a.has(k4) })
	if a.has(k2) {
		t.Error("key two came back on node A")
	}
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

func removeLine(t *testing.T, path, line string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.ReplaceAll(string(data), line+"\n", "")
	if out == string(data) {
		t.Fatalf("%s has no line %q", path, line)
	}
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

// After NATS goes away and comes back, each node's watchers carry on where
// they were (a ban made after the restart reaches the other node), and a
// key change made to a node's file while NATS was down is published once
// it is back (and never undone by the values the watchers deliver again).
func TestChangesFlowAgainAfterNATSRestarts(t *testing.T) {
	js := startJSServer(t)
	k1, k2 := testkit.NewUser(t, "one"), testkit.NewUser(t, "two")
	dirA := t.TempDir()
	writeKeys(t, dirA+"/authorized_keys", k1.Line(""))
	a, b := startNode(t, js.url(), dirA), startNode(t, js.url(), t.TempDir())
	eventually(t, "key one on node B", func() bool { return b.has(k1) })

	js.stop()
	appendLine(t, a.path, k2.Line("")) // while NATS is down
	removeLine(t, a.path, k1.Line(""))
	if _, err := a.ks.Reload(); err != nil {
		t.Fatal(err)
	}
	js.start()
	restarted := time.Now()

	eventually(t, "key two, added on A while NATS was down, published", func() bool {
		_, found, _ := a.sh.getKey(context.Background(), k2.FP)
		return found
	})
	eventually(t, "key two, added on A while NATS was down, on node B", func() bool { return b.has(k2) })
	t.Logf("key two on node B %v after NATS was back", time.Since(restarted))
	eventually(t, "key one, removed on A while NATS was down, gone from node B", func() bool { return !b.has(k1) })
	if a.has(k1) {
		t.Fatal("key one, removed on A while NATS was down, came back on A")
	}
	ctx := context.Background()
	eventually(t, "a ban stored on A after the restart", func() bool {
		return a.ctl.Ban(ctx, access.Ban{Fingerprint: "SHA256:late", Name: "late", ByName: "root"}) == nil
	})
	eventually(t, "the ban made after the restart on node B", func() bool { _, ok := b.ctl.Banned("SHA256:late"); return ok })
}

// entry is a bucket entry as a watcher delivers it.
type entry struct {
	jetstream.KeyValueEntry
	key   string
	value []byte
	op    jetstream.KeyValueOp
	rev   uint64
}

func (e entry) Revision() uint64 { return e.rev }

func (e entry) Key() string                     { return e.key }
func (e entry) Value() []byte                   { return e.value }
func (e entry) Operation() jetstream.KeyValueOp { return e.op }

// A value the bucket delivers again (a watcher made again after a
// reconnection) never undoes a change of the file that this node has not
// published yet: a key removed here while NATS was away stays removed, a
// key's new line stays.
func TestMirrorNeverUndoesAnUnpublishedChange(t *testing.T) {
	k1, k2 := testkit.NewUser(t, "one"), testkit.NewUser(t, "two")
	path := t.TempDir() + "/authorized_keys"
	writeKeys(t, path, k2.Line("admin"))
	ks, err := keys.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	reloads := 0
	k := &keySync{s: &Shared{log: slog.New(slog.DiscardHandler)}, path: path,
		n:    Node{Keys: ks, ReloadKeys: func() error { reloads++; _, err := ks.Reload(); return err }},
		base: map[string]string{k1.FP: k1.Line(""), k2.FP: k2.Line("")}}
	k.apply(entry{key: keyOf(k1.FP), value: []byte(k1.Line("")), op: jetstream.KeyValuePut, rev: 1})
	k.apply(entry{key: keyOf(k2.FP), value: []byte(k2.Line("")), op: jetstream.KeyValuePut, rev: 2})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), k1.KeyText()) || !strings.Contains(string(data), k2.Line("admin")) || reloads != 0 {
		t.Fatalf("the mirror undid changes made here (reloads %d):\n%s", reloads, data)
	}
	// A key this node has not changed takes the bucket's line.
	k.base[k2.FP] = k2.Line("admin")
	k.apply(entry{key: keyOf(k2.FP), value: []byte(k2.Line("")), op: jetstream.KeyValuePut, rev: 3})
	if e, ok := ks.Current().Lookup(k2.Pub); !ok || e.Admin {
		t.Fatalf("key two's line from the bucket was not mirrored: %+v %v", e, ok)
	}
}

// A watcher made again after a reconnection delivers the bucket's values
// again, and its snapshot may predate a removal this node has just
// published: that older value must not put the removed key back, even
// for a moment (it did, until the removal's own delete marker arrived).
func TestRedeliveredKeyDoesNotComeBackAfterItsRemovalIsPublished(t *testing.T) {
	k1, k2 := testkit.NewUser(t, "one"), testkit.NewUser(t, "two")
	path := t.TempDir() + "/authorized_keys"
	writeKeys(t, path, k2.Line(""))
	ks, err := keys.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := &keySync{s: &Shared{log: slog.New(slog.DiscardHandler)}, path: path,
		n:    Node{Keys: ks, ReloadKeys: func() error { _, err := ks.Reload(); return err }},
		base: map[string]string{k2.FP: k2.Line("")}}
	put1 := entry{key: keyOf(k1.FP), value: []byte(k1.Line("")), op: jetstream.KeyValuePut, rev: 5}
	k.apply(put1) // key one added on another node: mirrored here
	if _, ok := ks.Current().Lookup(k1.Pub); !ok {
		t.Fatal("key one from the bucket was not mirrored")
	}
	// Removed here and published (what publishLocal does): the file and
	// the agreed lines no longer hold it.
	removeLine(t, path, k1.Line(""))
	if _, err := ks.Reload(); err != nil {
		t.Fatal(err)
	}
	delete(k.base, k1.FP)
	k.apply(put1) // the same value, delivered again by a new watcher
	if _, ok := ks.Current().Lookup(k1.Pub); ok {
		t.Fatal("key one, removed here and published, came back from a value delivered again")
	}
	if data, _ := os.ReadFile(path); strings.Contains(string(data), k1.KeyText()) {
		t.Fatalf("key one is back in the file:\n%s", data)
	}
}

// A mute value delivered again (a watcher made again after a reconnection)
// does not undo a mute given here since; a newer one applies.
func TestRedeliveredMuteDoesNotUndoANewerOne(t *testing.T) {
	url := startJS(t)
	a := startNode(t, url, t.TempDir())
	n := Node{Hub: a.hub, Access: a.ctl}
	off, _ := json.Marshal(mute{ID: "id-frank", By: "root", Off: true})
	on, _ := json.Marshal(mute{ID: "id-frank", By: "root"})
	a.sh.applyMute(n, entry{key: keyOf("id-frank"), value: off, op: jetstream.KeyValuePut, rev: 7})
	a.hub.Mute("id-frank", time.Time{}, "root") // given here while NATS was away: not stored
	a.sh.applyMute(n, entry{key: keyOf("id-frank"), value: off, op: jetstream.KeyValuePut, rev: 7})
	if _, muted := a.hub.Muted("id-frank"); !muted {
		t.Fatal("the unmute delivered again undid the mute given since")
	}
	a.sh.applyMute(n, entry{key: keyOf("id-frank"), value: off, op: jetstream.KeyValuePut, rev: 9})
	if _, muted := a.hub.Muted("id-frank"); muted {
		t.Fatal("a newer unmute was not applied")
	}
	a.sh.applyMute(n, entry{key: keyOf("id-frank"), value: on, op: jetstream.KeyValuePut, rev: 10})
	if _, muted := a.hub.Muted("id-frank"); !muted {
		t.Fatal("a newer mute was not applied")
	}
}
