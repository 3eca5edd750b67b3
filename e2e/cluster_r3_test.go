package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/internal/natstest"
	"parley/keys"
)

// Three parley nodes on a cluster of three NATS servers, every stream and
// bucket replicated on all three (R3), each node given all three URLs and
// connected to a different server, behave as one chat on the screens of
// real SSH clients: a burst typed on the three nodes at once shows in one
// order on every screen; a private message between people on different
// nodes reaches only them; a private room made on A refuses an uninvited
// person on B and admits an invited one; a ban on A ends the banned
// person's session on B within 2 s. Issue 15, Tests, first bullet.
func TestThreeNATSServersThreeNodesOneChat(t *testing.T) {
	cluster := natstest.StartCluster(t, 3)
	urls := strings.Split(cluster.URLs(), ",")
	alice, bob, carol, dave, frank := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "carol"), newUser(t, "dave"), newUser(t, "frank")

	// Each node has the three URLs, in an order that puts A on n1, B on
	// n3 and C on n2, so that their traffic crosses the cluster's routes.
	// A's authorized_keys holds everyone; B and C start empty and take
	// the cluster's keys.
	var ncA, ncB, ncC *nats.Conn
	node := func(name string, order []int, nc **nats.Conn, keyLines ...string) *testServer {
		var us []string
		for _, i := range order {
			us = append(us, urls[i])
		}
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "authorized_keys"), strings.Join(append(keyLines, ""), "\n"))
		return startServer(t, withoutFloodLimits(),
			withNATSNode(t, natsNode{urls: strings.Join(us, ","), name: name, replicas: 3, presence: true, access: true, inOrder: true, conn: nc, dataDir: dir}))
	}
	a := node("a", []int{0, 1, 2}, &ncA, alice.line("admin"), bob.line(""), carol.line(""), dave.line(""), frank.line(""))
	b := node("b", []int{2, 1, 0}, &ncB)
	c := node("c", []int{1, 2, 0}, &ncC)
	servers := map[string]string{"A": ncA.ConnectedServerName(), "B": ncB.ConnectedServerName(), "C": ncC.ConnectedServerName()}
	if servers["A"] == servers["B"] || servers["B"] == servers["C"] || servers["A"] == servers["C"] {
		t.Fatalf("two nodes share a NATS server (%v): the test would not cross the cluster", servers)
	}
	t.Logf("parley nodes on NATS servers: %v", servers)
	for _, ts := range []*testServer{b, c} {
		ts.waitKeys(t, "node A's keys mirrored", func(s *keys.Snapshot) bool {
			for _, u := range []*user{alice, bob, carol, dave, frank} {
				if _, ok := s.Lookup(u.pub); !ok {
					return false
				}
			}
			return true
		})
	}

	big := size(100, 60) // the whole burst fits on one screen
	aliceA, carolA := a.connect(t, alice, big), a.connect(t, carol, big)
	bobB, carolB, frankB := b.connect(t, bob, big), b.connect(t, carol, big), b.connect(t, frank, big)
	daveC := c.connect(t, dave, big)
	everyone := []*client{aliceA, carolA, bobB, carolB, frankB, daveC}
	where := map[*client]string{aliceA: "alice on A", carolA: "carol on A", bobB: "bob on B", carolB: "carol on B", frankB: "frank on B", daveC: "dave on C"}
	for _, c := range everyone {
		eventually(t, waitTimeout, "/who of "+where[c]+" to list all five", func() bool {
			c.Say(t, "/who")
			held, _, _ := c.Await(time.Second, nil, func(s string, _ []byte) bool { return strings.Contains(s, "5 in #lobby") })
			return held
		})
	}

	// A burst typed on the three nodes at once, without waiting between
	// lines: every screen shows the same order (the stream's).
	const perSender = 6
	var want []string
	for i := range perSender {
		for _, s := range []struct {
			c   *client
			tag string
		}{{aliceA, "a"}, {bobB, "b"}, {daveC, "c"}} {
			line := fmt.Sprintf("burst-%s-%02d", s.tag, i)
			s.c.Say(t, line)
			want = append(want, line)
		}
	}
	burst := regexp.MustCompile(`burst-[abc]-\d\d`)
	start := time.Now()
	var first []string
	for _, c := range everyone {
		_, screen, _ := c.Await(waitTimeout, nil, func(s string, _ []byte) bool { return len(burst.FindAllString(s, -1)) >= len(want) })
		got := burst.FindAllString(screen, -1)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Fatalf("%s's screen lacks %s (shows %d of the %d burst lines):\n%s", where[c], w, len(got), len(want), frame(screen))
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s's screen shows %d burst lines, not %d:\n%s", where[c], len(got), len(want), frame(screen))
		}
		if first == nil {
			first = got
			t.Logf("order of the burst of %d lines typed on three nodes: %v", len(want), got)
		} else if !slices.Equal(got, first) {
			t.Fatalf("%s's screen shows the burst in another order than alice's on A:\n%v\n%v\n%s", where[c], got, first, frame(screen))
		}
	}
	t.Logf("the whole burst was on all %d screens %v after it was typed", len(everyone), time.Since(start).Round(time.Millisecond))

	// A private message from alice on A to bob on B reaches them only:
	// carol (on A and B), frank (B) and dave (C) never see it.
	aliceA.Say(t, "/msg bob r3-secret-across-nodes")
	bobB.Expect(t, "r3-secret-across-nodes")
	aliceA.Expect(t, "r3-secret-across-nodes")
	aliceA.Say(t, "after the r3 secret")
	for _, c := range []*client{carolA, carolB, frankB, daveC} {
		if screen := c.Expect(t, "after the r3 secret"); strings.Contains(screen, "r3-secret-across-nodes") {
			t.Fatalf("%s's screen shows alice's private message to bob:\n%s", where[c], frame(screen))
		}
		if strings.Contains(string(c.Raw()), "r3-secret-across-nodes") {
			t.Fatalf("%s's terminal was sent alice's private message to bob", where[c])
		}
	}

	// A private room made on A: frank, uninvited, is refused on B; carol,
	// invited on A after that (when B already holds the room, so the
	// invite must reach it as a change), enters it on B and is heard on A.
	aliceA.Say(t, "/room private #board")
	aliceA.Expect(t, "#board is private")
	for _, c := range []*client{frankB, carolB} {
		c.Say(t, "/join #board")
		if screen := c.WaitFor(t, anyOf(contains("#board is private"), header(`^ #board `)), waitTimeout); header(`^ #board `)(screen) {
			t.Fatalf("%s, not invited, entered the private room made on A:\n%s", where[c], frame(screen))
		}
	}
	aliceA.Say(t, "/invite carol")
	aliceA.Expect(t, "carol may now join #board")
	start = time.Now()
	eventually(t, propagation, "carol, invited on A, to enter #board on B", func() bool {
		carolB.Say(t, "/join #board")
		held, _, _ := carolB.Await(time.Second, nil, func(s string, _ []byte) bool { return header(`^ #board `)(s) })
		return held
	})
	t.Logf("the invite to #board made on A let carol in on B %v later", time.Since(start).Round(time.Millisecond))
	carolB.Say(t, "carol on b in the board room")
	aliceA.Expect(t, "carol on b in the board room")
	for _, m := range b.hub().Members("board") {
		if m.ID == frank.fp {
			t.Fatal("node B counts frank, who was refused, in #board")
		}
	}
	if screen := frankB.Screen(); strings.Contains(screen, "carol on b in the board room") {
		t.Fatalf("frank, refused, is shown #board's conversation:\n%s", frame(screen))
	}

	// A ban on A ends frank's session on B within 2 s, and B refuses him.
	start = time.Now()
	adminExec(t, a, alice, "ban frank 1h spamming")
	endsWithin(t, frankB, start, propagation, "ban on A")
	if !strings.Contains(frankB.Screen(), "banned by alice") {
		t.Errorf("frank's screen does not say he was banned:\n%s", frame(frankB.Screen()))
	}
	if !refused(t, b, frank) {
		t.Fatal("node B let banned frank in")
	}

	checkR3(t, ncA, "PARLEY_ROOM_lobby", "PARLEY_ROOM_board", "PARLEY_DM", "KV_PARLEY_BANS", "KV_PARLEY_ROOMS", "KV_PARLEY_PRESENCE")
}

// checkR3 fails the test unless every stream (room logs, private
// messages, and the key-value buckets of presence and access) is
// configured with three replicas and placed on three servers, and the
// streams named in need exist.
func checkR3(t *testing.T, nc *nats.Conn, need ...string) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var names []string
	streams := js.ListStreams(ctx)
	for info := range streams.Info() {
		names = append(names, info.Config.Name)
		if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			t.Errorf("stream %s: %d replicas configured, cluster %+v: want 3 placed", info.Config.Name, info.Config.Replicas, info.Cluster)
		}
	}
	if err := streams.Err(); err != nil {
		t.Fatal(err)
	}
	for _, n := range need {
		if !slices.Contains(names, n) {
			t.Errorf("no stream %s among %v", n, names)
		}
	}
	t.Logf("streams, each on three servers: %v", names)
}
