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
	checkR3(t, ncA)
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
	for _, c := range everyone {
		eventually(t, waitTimeout, c.name+"'s /who to list all four", func() bool {
			c.Say(t, "/who")
			held, _, _ := c.Await(time.Second, nil, func(s string, _ []byte) bool { return strings.Contains(s, "4 in #lobby") })
			return held
		})
	}

	// A burst typed on both nodes at once, without waiting between lines:
	// every screen shows the same order (the stream's).
	const perSender = 8
	start := time.Now()
	var want []string
	for i := range perSender {
		aliceA.Say(t, fmt.Sprintf("burst-a-%02d", i))
		bobB.Say(t, fmt.Sprintf("burst-b-%02d", i))
		want = append(want, fmt.Sprintf("burst-a-%02d", i), fmt.Sprintf("burst-b-%02d", i))
	}
	burst := regexp.MustCompile(`burst-[ab]-\d\d`)
	var first []string
	for _, c := range everyone {
		screen := c.WaitFor(t, func(s string) bool { return len(burst.FindAllString(s, -1)) >= len(want) }, waitTimeout)
		got := burst.FindAllString(screen, -1)
		if len(got) != len(want) {
			t.Fatalf("%s's screen shows %d burst lines, not %d:\n%s", c.name, len(got), len(want), frame(screen))
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Fatalf("%s's screen lacks %s:\n%s", c.name, w, frame(screen))
			}
		}
		if first == nil {
			first = got
			t.Logf("the burst of %d lines from two nodes was on every screen %v after the last was typed; order: %v", len(want), time.Since(start).Round(time.Millisecond), got)
		} else if !slices.Equal(got, first) {
			t.Fatalf("%s's screen shows the burst in another order than %s's:\n%v\n%v\n%s", c.name, aliceA.name, got, first, frame(screen))
		}
	}

	// A private message from alice on A to bob on B reaches them only:
	// carol, on both nodes, and frank never see it.
	aliceA.Say(t, "/msg bob r3-secret-across-nodes")
	bobB.Expect(t, "r3-secret-across-nodes")
	aliceA.Expect(t, "r3-secret-across-nodes")
	aliceA.Say(t, "after the r3 secret")
	for _, c := range []*client{carolA, carolB, frankB} {
		if screen := c.Expect(t, "after the r3 secret"); strings.Contains(screen, "r3-secret-across-nodes") {
			t.Fatalf("%s's screen shows alice's private message to bob:\n%s", c.name, frame(screen))
		}
		if strings.Contains(string(c.Raw()), "r3-secret-across-nodes") {
			t.Fatalf("%s's terminal was sent alice's private message to bob", c.name)
		}
	}

	// A private room made on A: frank, uninvited, is refused on B; carol,
	// invited, enters it on B and is heard on A.
	aliceA.Say(t, "/room private #board")
	aliceA.Expect(t, "#board is private")
	aliceA.Say(t, "/invite carol")
	aliceA.Expect(t, "carol may now join #board")
	start = time.Now()
	frankB.Say(t, "/join #board")
	frankB.Expect(t, "#board is private")
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
}

// checkR3 fails the test unless every stream (room logs, private
// messages, and the key-value buckets of presence and access) is
// replicated on three servers, each replica current.
func checkR3(t *testing.T, nc *nats.Conn) {
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
	if len(names) < 3 {
		t.Fatalf("only these streams exist: %v", names)
	}
	t.Logf("streams, each on three servers: %v", names)
}
