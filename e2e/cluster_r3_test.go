package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/internal/natstest"
)

// Two parley nodes on a cluster of three NATS servers, every stream and
// bucket replicated on all three (R3), each node given all three URLs and
// connected to a different server, behave as one chat on the screens of
// real SSH clients: a burst typed on both nodes at once shows in one
// order on every screen; a private message between people on different
// nodes reaches only them; a private room made on A refuses an uninvited
// person on B and admits an invited one; a ban on A ends the banned
// person's session on B within 2 s. Issue 15, Tests, first bullet.
func TestThreeNATSServersTwoNodesOneChat(t *testing.T) {
	cluster := natstest.StartCluster(t, 3)
	urls := strings.Split(cluster.URLs(), ",")
	alice, bob, carol, frank := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "carol"), newUser(t, "frank")

	// Each node has the three URLs; A tries n1 first, B n3 first, so that
	// their traffic crosses the cluster's routes.
	var ncA, ncB *nats.Conn
	a := startServer(t, withoutFloodLimits(),
		withKeys(alice.line("admin"), bob.line(""), carol.line(""), frank.line("")),
		withNATSNode(t, natsNode{urls: strings.Join(urls, ","), name: "a", replicas: 3, presence: true, access: true, inOrder: true, conn: &ncA}))
	slices.Reverse(urls)
	dirB := t.TempDir()
	writeFile(t, dirB+"/authorized_keys", "") // B takes the cluster's keys
	b := startServer(t, withoutFloodLimits(),
		withNATSNode(t, natsNode{urls: strings.Join(urls, ","), name: "b", replicas: 3, presence: true, access: true, inOrder: true, conn: &ncB, dataDir: dirB}))
	if sa, sb := ncA.ConnectedServerName(), ncB.ConnectedServerName(); sa == sb {
		t.Fatalf("both nodes are connected to NATS server %s: the test would not cross the cluster", sa)
	}
	eventually(t, waitTimeout, "node A's keys mirrored on node B", func() bool {
		s := b.srv.Keys().Current()
		for _, u := range []*user{alice, bob, carol, frank} {
			if _, ok := s.Lookup(u.pub); !ok {
				return false
			}
		}
		return true
	})

	big := size(100, 50) // the whole burst fits on one screen
	aliceA, carolA := a.connect(t, alice, big), a.connect(t, carol, big)
	bobB, carolB, frankB := b.connect(t, bob, big), b.connect(t, carol, big), b.connect(t, frank, big)
	everyone := []*client{aliceA, carolA, bobB, carolB, frankB}
	where := map[*client]string{aliceA: "alice on A", carolA: "carol on A", bobB: "bob on B", carolB: "carol on B", frankB: "frank on B"}
	for _, c := range everyone {
		eventually(t, waitTimeout, "/who of "+where[c]+" to list all four", func() bool {
			c.Say(t, "/who")
			held, _, _ := c.Await(time.Second, nil, func(s string, _ []byte) bool { return strings.Contains(s, "4 in #lobby") })
			return held
		})
	}

	// A burst typed on both nodes at once, without waiting between lines:
	// every screen shows the same order (the stream's).
	const perSender = 8
	var want []string
	for i := range perSender {
		aliceA.Say(t, fmt.Sprintf("burst-a-%02d", i))
		bobB.Say(t, fmt.Sprintf("burst-b-%02d", i))
		want = append(want, fmt.Sprintf("burst-a-%02d", i), fmt.Sprintf("burst-b-%02d", i))
	}
	burst := regexp.MustCompile(`burst-[ab]-\d\d`)
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
			t.Logf("order of the burst of %d lines typed on both nodes: %v", len(want), got)
		} else if !slices.Equal(got, first) {
			t.Fatalf("%s's screen shows the burst in another order than alice's on A:\n%v\n%v\n%s", where[c], got, first, frame(screen))
		}
	}
	t.Logf("the whole burst was on all %d screens %v after it was typed", len(everyone), time.Since(start).Round(time.Millisecond))

	// A private message from alice on A to bob on B reaches them only:
	// carol, on both nodes, and frank never see it.
	aliceA.Say(t, "/msg bob r3-secret-across-nodes")
	bobB.Expect(t, "r3-secret-across-nodes")
	aliceA.Expect(t, "r3-secret-across-nodes")
	aliceA.Say(t, "after the r3 secret")
	for _, c := range []*client{carolA, carolB, frankB} {
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
