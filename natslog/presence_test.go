package natslog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/natslog"
	"parley/room"
)

// Test heartbeats: a node unheard for testTTL has gone.
const (
	testHeartbeat = 200 * time.Millisecond
	testTTL       = time.Second
)

// clusterNode is one parley node as natswire.go makes it: a hub whose Log,
// History, Roster and private messages are all on its own connection.
type clusterNode struct {
	hub    *room.Hub
	roster *natslog.Roster
	dms    *natslog.DMs
	nc     *nats.Conn
}

func newClusterNode(t testing.TB, s *jsServer, name string) *clusterNode {
	t.Helper()
	l, nc := newLog(t, s)
	ro, err := natslog.NewRoster(nc, natslog.RosterOptions{Node: name, Heartbeat: testHeartbeat, TTL: testTTL})
	if err != nil {
		t.Fatalf("NewRoster: %v", err)
	}
	dms, err := natslog.NewDMs(nc, natslog.Options{})
	if err != nil {
		t.Fatalf("NewDMs: %v", err)
	}
	h, err := room.New(room.Config{Log: l, History: l.History(), Roster: ro, Private: dms})
	if err != nil {
		t.Fatalf("room.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := h.Close(ctx, ""); err != nil {
			t.Errorf("hub Close: %v", err)
		}
		if nc.IsConnected() {
			if err := ro.Close(ctx); err != nil {
				t.Errorf("roster Close: %v", err)
			}
		} else {
			_ = ro.Close(ctx) // a node that crashed says no goodbye
		}
	})
	return &clusterNode{hub: h, roster: ro, dms: dms, nc: nc}
}

// names returns the names in a member list, and each one's sessions.
func names(list []room.MemberInfo) map[string]int {
	out := map[string]int{}
	for _, m := range list {
		out[m.Name] += m.Sessions
	}
	return out
}

// lobbyShows waits until h's lobby list is exactly want (name -> sessions).
func lobbyShows(t testing.TB, h *room.Hub, want map[string]int) {
	t.Helper()
	eventually(t, "the lobby to list "+mapString(want), func() bool {
		got := names(h.Members("lobby"))
		if len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	})
}

func mapString(m map[string]int) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k)
		b.WriteString("×")
		b.WriteString(strings.Repeat("|", v))
		b.WriteString(" ")
	}
	return b.String()
}

// Member lists on every node show everyone, once: a person with sessions
// on two nodes is one line with both sessions; their arrival on a second
// node is no join line, and only the end of their last session anywhere
// is a leave line. Issue 15, presence item 1.
func TestRosterMembersAcrossNodes(t *testing.T) {
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	alice := connect(t, a.hub, "id-alice", "alice")
	bob := connect(t, b.hub, "id-bob", "bob")
	for _, n := range []*clusterNode{a, b} {
		lobbyShows(t, n.hub, map[string]int{"alice": 1, "bob": 1})
	}
	if list := a.hub.Members("lobby"); len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
		t.Fatalf("node a's lobby list is not sorted by name: %+v", list)
	}

	// The one-entry lookup (web pages' "member" frames) agrees with the
	// list: bob, only on node b, is in node a's lobby.
	if m, ok := a.hub.RoomMember("lobby", "id-bob"); !ok || m.Name != "bob" || m.Sessions != 1 {
		t.Fatalf("node a's RoomMember(lobby, bob) = %+v, %v; want bob with 1 session", m, ok)
	}

	alice2 := connect(t, b.hub, "id-alice", "alice") // alice on the second node too
	for _, n := range []*clusterNode{a, b} {
		lobbyShows(t, n.hub, map[string]int{"alice": 2, "bob": 1})
		if m, ok := n.hub.RoomMember("lobby", "id-alice"); !ok || m.Sessions != 2 {
			t.Fatalf("RoomMember(lobby, alice) = %+v, %v; want her 2 sessions on two nodes counted", m, ok)
		}
	}
	if alice2.Name() != "alice" {
		t.Fatalf("alice's second session is called %q", alice2.Name())
	}
	alice.Close(room.ReasonQuit) // her node-a session: she is still on b
	for _, n := range []*clusterNode{a, b} {
		lobbyShows(t, n.hub, map[string]int{"alice": 1, "bob": 1})
	}
	send(t, bob, "marker one")
	_, before := untilChat(t, bob, "marker one")
	joins := 0
	for _, m := range before {
		if m.FromID == "id-alice" && m.Kind == room.KindLeave {
			t.Fatalf("bob was shown alice leaving while she is on node b: %+v", m)
		}
		if m.FromID == "id-alice" && m.Kind == room.KindJoin {
			joins++
		}
	}
	for _, m := range bob.Backlog() {
		if m.FromID == "id-alice" && m.Kind == room.KindJoin {
			joins++
		}
	}
	if joins != 1 {
		t.Fatalf("bob was shown %d join lines of alice, want 1 (her second node is no arrival): %+v", joins, before)
	}
	alice2.Close(room.ReasonQuit) // her last session anywhere
	for {
		if m := next(t, bob); m.Kind == room.KindLeave && m.FromID == "id-alice" {
			break
		}
	}
	for _, n := range []*clusterNode{a, b} {
		lobbyShows(t, n.hub, map[string]int{"bob": 1})
	}
}

// Away marks, admin and bot marks and /who are cluster-wide. Issue 15,
// presence item 1.
func TestRosterAwayAndWho(t *testing.T) {
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	alice := connect(t, a.hub, "id-alice", "alice")
	bob := connect(t, b.hub, "id-bob", "bob")
	send(t, alice, "/away lunch")
	eventually(t, "node b to show alice away", func() bool {
		for _, m := range b.hub.Members("lobby") {
			if m.Name == "alice" && m.Away == "lunch" {
				return true
			}
		}
		return false
	})
	// An admin and a program (ssh host COMMAND) on node a are marked so on
	// node b too.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := a.hub.Connect(ctx, room.Identity{ID: "id-root", Name: "root", Admin: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.hub.Connect(ctx, room.Identity{ID: "id-robot", Name: "robot", Bot: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node b to mark root admin and robot a bot", func() bool {
		ok := 0
		for _, m := range b.hub.Members("lobby") {
			if m.Name == "root" && m.Admin && !m.Bot || m.Name == "robot" && m.Bot && !m.Admin {
				ok++
			}
		}
		return ok == 2
	})
	send(t, bob, "/who")
	for {
		m := next(t, bob)
		if m.Kind == room.KindNotice && strings.Contains(m.Text, "in #lobby:") {
			if !strings.Contains(m.Text, "4 in #lobby") || !strings.Contains(m.Text, "alice away: lunch") || !strings.Contains(m.Text, "bob") ||
				!strings.Contains(m.Text, "root (admin)") || !strings.Contains(m.Text, "robot (bot)") {
				t.Fatalf("bob's /who on node b does not show both, alice away:\n%s", m.Text)
			}
			break
		}
	}
}

// A node that dies without its goodbye (its NATS connection gone, no
// Close) drops out of the other nodes' member lists once its heartbeat has
// been unheard for the TTL; one that closes drops out at once. Issue 15,
// presence item 1.
func TestRosterDeadNodeDrops(t *testing.T) {
	js := startJS(t)
	a, c, d := newClusterNode(t, js, "a"), newClusterNode(t, js, "c"), newClusterNode(t, js, "d")
	connect(t, a.hub, "id-alice", "alice")
	connect(t, c.hub, "id-carol", "carol")
	connect(t, d.hub, "id-dave", "dave")
	lobbyShows(t, a.hub, map[string]int{"alice": 1, "carol": 1, "dave": 1})

	start := time.Now()
	c.nc.Close() // node c crashes: no goodbye
	lobbyShows(t, a.hub, map[string]int{"alice": 1, "dave": 1})
	took := time.Since(start)
	t.Logf("a crashed node's people dropped out after %v (heartbeat %v, TTL %v)", took, testHeartbeat, testTTL)
	if took < testTTL-testHeartbeat {
		t.Fatalf("carol dropped out after %v, before the TTL of %v: a heartbeat was missed?", took, testTTL)
	}
	if limit := testTTL + 5*time.Second; took > limit { // generous: the machine may be loaded
		t.Fatalf("carol dropped out after %v, later than %v", took, limit)
	}

	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := d.roster.Close(ctx); err != nil { // node d leaves properly
		t.Fatal(err)
	}
	lobbyShows(t, a.hub, map[string]int{"alice": 1})
	t.Logf("a closed node's people dropped out after %v", time.Since(start))
}

// Two people on two nodes cannot hold the same name: the second to come is
// given another with a note that says why, and /nick to a name held on
// another node is refused; once its holder leaves, the name is free.
// Issue 15, names item 2.
func TestRosterNamesUniqueAcrossNodes(t *testing.T) {
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	alice := connect(t, a.hub, "id-alice", "alice")
	mallory := connect(t, b.hub, "id-mallory", "alice")
	if mallory.Name() == "alice" {
		t.Fatal("two people on two nodes are both called alice")
	}
	for {
		m := next(t, mallory)
		if m.Kind == room.KindNotice && strings.Contains(m.Text, `"alice" could not be used`) {
			if !strings.Contains(m.Text, "another node") {
				t.Fatalf("the note does not say why: %q", m.Text)
			}
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := mallory.Send(ctx, "/nick ALICE")
	if err == nil || !strings.Contains(err.Error(), "another node") {
		t.Fatalf("/nick ALICE on node b while alice is on node a: %v", err)
	}
	alice.Close(room.ReasonQuit)
	lobbyShows(t, b.hub, map[string]int{mallory.Name(): 1})
	eventually(t, "the name alice to be free again", func() bool {
		return mallory.Send(ctx, "/nick alice") == nil
	})
	if mallory.Name() != "alice" {
		t.Fatalf("mallory is %q after /nick alice", mallory.Name())
	}
}

// Claims race: of several nodes claiming one name for different people at
// once, exactly one wins. Issue 15, names item 2.
func TestRosterClaimRace(t *testing.T) {
	js := startJS(t)
	var rosters []*natslog.Roster
	for _, n := range []string{"a", "b", "c"} {
		rosters = append(rosters, newClusterNode(t, js, n).roster)
	}
	for round := range 5 {
		name := "racer" + string(rune('a'+round))
		var wg sync.WaitGroup
		errs := make([]error, len(rosters))
		for i, ro := range rosters {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				errs[i] = ro.ClaimName(ctx, name, "id-"+string(rune('0'+i)))
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var ue *room.Error
			switch {
			case err == nil:
				won++
			case errors.As(err, &ue):
			default:
				t.Fatalf("claim failed other than by losing: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d claims of %s won: %v", round, won, name, errs)
		}
	}
}

// How long a crowd arriving on two nodes takes to be one list on both, and
// what it costs: 100 people on each node (200 sessions: this machine is
// shared), each node's lobby listing all 200. Issue 15 item 1.
func TestRosterCrowdConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("a crowd of 200")
	}
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	const each = 100
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 2 * each {
		n := a
		if i%2 == 1 {
			n = b
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			if _, err := n.hub.Connect(ctx, room.Identity{ID: fmt.Sprint("id-", i), Name: fmt.Sprint("p", i)}); err != nil {
				t.Errorf("Connect %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	connected := time.Since(start)
	for _, n := range []*clusterNode{a, b} {
		eventually(t, "200 in the lobby", func() bool { return len(n.hub.Members("lobby")) == 2*each })
	}
	t.Logf("200 people on two nodes: all connected after %v, one list of 200 on both after %v", connected, time.Since(start))
	seen := map[string]bool{}
	for _, m := range a.hub.Members("lobby") {
		if seen[m.Name] {
			t.Fatalf("two people called %s", m.Name)
		}
		seen[m.Name] = true
	}
}

// A node whose people another node deleted (it thought the node silent: a
// heartbeat late under load, a partition) writes them again, so nobody
// stays missing from the lists. Issue 15 item 1.
func TestRosterRepublishesWhatOthersDeleted(t *testing.T) {
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	connect(t, a.hub, "id-alice", "alice")
	connect(t, b.hub, "id-bob", "bob")
	lobbyShows(t, a.hub, map[string]int{"alice": 1, "bob": 1})
	jsc, err := jetstream.New(a.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	kv, err := jsc.KeyValue(ctx, natslog.PresenceBucket)
	if err != nil {
		t.Fatal(err)
	}
	key := b.roster.Node() + "." + natslog.Token("id-bob")
	if err := kv.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node b to write bob again", func() bool {
		e, err := kv.Get(ctx, key)
		return err == nil && e.Operation() == jetstream.KeyValuePut
	})
	lobbyShows(t, a.hub, map[string]int{"alice": 1, "bob": 1})
}

// After NATS restarts, the nodes carry on: the people listed before are
// listed again (a node whose heartbeat failed writes its people again),
// and someone arriving afterwards appears on the other node (the watches
// came back), and private messages flow again. Issue 15 items 1 and 3.
func TestRosterSurvivesNATSRestart(t *testing.T) {
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	alice := connect(t, a.hub, "id-alice", "alice")
	connect(t, b.hub, "id-bob", "bob")
	lobbyShows(t, a.hub, map[string]int{"alice": 1, "bob": 1})

	js.stop()
	eventually(t, "both nodes to notice NATS went away", func() bool { return !a.nc.IsConnected() && !b.nc.IsConnected() })
	js.start()
	eventually(t, "both nodes to reconnect", func() bool { return a.nc.IsConnected() && b.nc.IsConnected() })
	back := time.Now()
	carol := connect(t, b.hub, "id-carol", "carol")
	t.Logf("connected %v after NATS was back", time.Since(back))
	for _, n := range []*clusterNode{a, b} {
		lobbyShows(t, n.hub, map[string]int{"alice": 1, "bob": 1, "carol": 1})
		t.Logf("listed %v after NATS was back", time.Since(back))
	}
	send(t, alice, "/msg carol after the restart") // the private feed came back too
	untilPrivate(t, carol, "after the restart")
}

// A person on two nodes who changes their name on one has the new name on
// both: their sessions on the other node are told, the lists show one
// line, and the old name is free for someone else. Issue 15 item 2.
func TestRosterRenameFollowsAcrossNodes(t *testing.T) {
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	alice := connect(t, a.hub, "id-alice", "alice")
	alice2 := connect(t, b.hub, "id-alice", "alice")
	for _, n := range []*clusterNode{a, b} {
		lobbyShows(t, n.hub, map[string]int{"alice": 2})
	}
	send(t, alice, "/nick al")
	for {
		m := next(t, alice2)
		if m.Kind == room.KindNotice && strings.Contains(m.Text, "You are now al") {
			break
		}
	}
	if alice2.Name() != "al" {
		t.Fatalf("alice's session on node b is %q", alice2.Name())
	}
	for _, n := range []*clusterNode{a, b} {
		lobbyShows(t, n.hub, map[string]int{"al": 2})
	}
	mallory := connect(t, b.hub, "id-mallory", "mallory")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	eventually(t, "the old name alice to be free", func() bool { return mallory.Send(ctx, "/nick alice") == nil })
	// And a later reconnection of al on node b keeps al, not the name
	// node b had saved before.
	alice2.Close(room.ReasonQuit)
	lobbyShows(t, a.hub, map[string]int{"al": 1, "alice": 1})
	if again := connect(t, b.hub, "id-alice", "alice"); again.Name() != "al" {
		t.Fatalf("alice reconnecting on node b is %q, not al", again.Name())
	}
	lobbyShows(t, a.hub, map[string]int{"al": 2, "alice": 1})
}

// A change of someone's entry on another node reaches the screens here as a
// KindPresence naming that identity (FromID), so that a front door which
// sends list changes one entry at a time (the web page) sends that entry,
// not the whole list of a room of thousands.
func TestRosterChangesNameWhoseEntryChanged(t *testing.T) {
	js := startJS(t)
	a, b := newClusterNode(t, js, "a"), newClusterNode(t, js, "b")
	bob := connect(t, b.hub, "id-bob", "bob")
	alice := connect(t, a.hub, "id-alice", "alice")
	lobbyShows(t, b.hub, map[string]int{"alice": 1, "bob": 1})
	send(t, alice, "/away lunch")
	presences := 0
	for {
		m := next(t, bob)
		if m.Kind != room.KindPresence || m.Text == room.PresenceIdle {
			continue
		}
		if m.FromID != "id-alice" {
			t.Fatalf("bob on node b was told the list changed without naming whose entry: %+v", m)
		}
		presences++
		if info, ok := b.hub.RoomMember("lobby", "id-alice"); ok && info.Away == "lunch" {
			break
		}
	}
	t.Logf("%d named changes of alice's entry reached bob", presences)
}
