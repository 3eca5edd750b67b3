package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Heartbeats of the nodes in these tests: a node unheard for clusterTTL
// has gone.
const (
	clusterHeartbeat = 250 * time.Millisecond
	clusterTTL       = 1500 * time.Millisecond
)

// clusterNode is what withClusterNode made: the node's NATS connection,
// to cut it as a crash does.
type clusterNode struct{ nc *nats.Conn }

// withClusterNode makes the server a node as main's --nats does
// (natswire.go): rooms, presence, names and private messages shared
// through js. Its goodbye and connection close after the server.
func withClusterNode(t *testing.T, js *jetStream, name string, node *clusterNode) serverOpt {
	n := natsNode{urls: natsURL(js), name: name, presence: true, heartbeat: clusterHeartbeat, ttl: clusterTTL}
	if node != nil {
		n.conn = &node.nc
	}
	return withNATSNode(t, n)
}

// People on two nodes see one chat's presence on their screens: /who on
// either node and `ssh host who` list both; a private message from node a
// reaches its recipient on node b and nobody else's screen on either
// node; a name held on one node is refused on the other with a clear
// message; and a node that stops without saying goodbye (its NATS
// connection cut) vanishes from the other's member list within seconds.
// Issue 15 items 1, 2 and 3.
func TestTwoNodesPresenceOnScreens(t *testing.T) {
	js := startJetStream(t)
	alice, bob, carol, mallory, eve := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "carol"), newUser(t, "mallory"), newUser(t, "eve")
	users := withUsers(alice, bob, carol, mallory, eve)
	var nodeB clusterNode
	a := startServer(t, users, withClusterNode(t, js, "a", nil))
	b := startServer(t, users, withClusterNode(t, js, "b", &nodeB))

	ca := a.connect(t, alice, size(100, 30))
	cb := b.connect(t, bob, size(100, 30))
	carolA := a.connect(t, carol, size(100, 30))
	carolB := b.connect(t, carol, size(100, 30))

	// /who on each node lists everyone, carol once with her two sessions.
	for _, c := range []*client{ca, cb} {
		eventually(t, waitTimeout, c.name+"'s /who to list all three", func() bool {
			c.Say(t, "/who")
			_, screen, _ := c.Await(time.Second, nil, func(s string, _ []byte) bool { return strings.Contains(s, "3 in #lobby") })
			return strings.Contains(screen, "3 in #lobby")
		})
	}
	conn, err := b.dial(b.clientConfig(bob.name, bob.auth(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out, errOut, code := execOn(t, conn, "who")
	for _, name := range []string{"alice", "bob", "carol"} {
		if code != 0 || !strings.Contains(out, name) {
			t.Fatalf("`ssh nodeB who` (exit %d) does not list %s:\n%s%s", code, name, out, errOut)
		}
	}
	if strings.Count(out, "carol") != 1 {
		t.Fatalf("`ssh nodeB who` lists carol, who has a session on each node, more than once:\n%s", out)
	}

	// A private message stays between its two people, across nodes.
	ca.Say(t, "/msg bob the-secret-across-nodes")
	cb.Expect(t, "the-secret-across-nodes")
	ca.Expect(t, "the-secret-across-nodes")
	ca.Say(t, "after the secret")
	for _, c := range []*client{carolA, carolB} {
		if screen := c.Expect(t, "after the secret"); strings.Contains(screen, "the-secret-across-nodes") {
			t.Fatalf("carol's screen on %s shows alice's private message to bob:\n%s", c.name, frame(screen))
		}
		if raw := string(c.Raw()); strings.Contains(raw, "the-secret-across-nodes") {
			t.Fatalf("carol's terminal was sent alice's private message to bob")
		}
	}

	// A name held on node a is refused on node b.
	m := a.connect(t, mallory, size(100, 30))
	m.Say(t, "/nick zed")
	m.Expect(t, "mallory is now known as zed")
	eventually(t, waitTimeout, "node b to know zed", func() bool {
		for _, p := range b.hub().Members("lobby") {
			if p.Name == "zed" {
				return true
			}
		}
		return false
	})
	e := b.connect(t, eve, size(100, 30))
	e.Say(t, "/nick zed")
	e.WaitFor(t, "cannot change your name to zed: zed is already taken", waitTimeout)
	e.Say(t, "/nick ZED")
	e.WaitFor(t, "cannot change your name to ZED: ZED is already taken", waitTimeout)
	if strings.Contains(e.Screen(), "eve is now known as") {
		t.Fatalf("eve took the name zed held on node a:\n%s", frame(e.Screen()))
	}

	// Node b crashes (its NATS connection cut, no goodbye): its people
	// leave node a's member list.
	start := time.Now()
	nodeB.nc.Close()
	eventually(t, waitTimeout, "bob to vanish from node a's list", func() bool {
		_, in := a.memberIDs()[bob.fp]
		return !in
	})
	took := time.Since(start)
	t.Logf("node b's people left node a's list %v after it went silent (heartbeat %v, TTL %v)", took, clusterHeartbeat, clusterTTL)
	if took > clusterTTL+5*time.Second { // generous: the machine may be loaded
		t.Fatalf("bob vanished only after %v", took)
	}
	if _, in := a.memberIDs()[carol.fp]; !in {
		t.Fatal("carol, still on node a, left node a's list with node b")
	}
	ca.Say(t, "/who")
	ca.WaitFor(t, "3 in #lobby", waitTimeout) // alice, carol, zed (mallory)
}
