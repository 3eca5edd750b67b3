package durability

// Fault tests of a cluster (issue 15, "Tests: Faults"): parley binaries
// started with --nats on embedded NATS servers (internal/natstest), real
// SSH clients with a terminal, and the room's JetStream stream as the
// source of truth. "Accepted" is what a person would call it, as in
// durability_test.go: the token reached a screen, which a node shows only
// after JetStream acknowledged it.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"parley/internal/natstest"
	"parley/internal/testkit"
	"parley/room"
)

const clusterSenderCount = 3

// TestClusterNodeKilledMidBurstLosesNothing: two nodes share the lobby;
// round after round, three senders stream tokens into one node, which is
// killed with SIGKILL after a random number of accepted tokens; they
// reconnect to the other node and carry on, and the killed node is started
// again on its data dir. At the end every accepted token is in the room's
// stream exactly once, each sender's in the order typed, and both nodes
// show the room's messages in the stream's order with its numbers.
func TestClusterNodeKilledMidBurstLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts parley nodes many times")
	}
	began := time.Now()
	seed := durSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rounds := durRounds(t, 20, 100)
	js := natstest.Start(t)
	users := make([]string, clusterSenderCount)
	for i := range users {
		users[i] = fmt.Sprintf("s%d", i)
	}
	nodes, signers := startClusterNodes(t, js.URL(), 1, []string{"a", "b"}, users)
	ct := newClusterTokens(rng.Uint64(), clusterSenderCount)

	for round := 1; round <= rounds; round++ {
		start := time.Now()
		victim, other := nodes[round%2], nodes[1-round%2]
		ct.startRound(round)
		killAt := 1 + rng.IntN(40)
		cs := connectSenders(t, ct, []string{victim.c.Addr}, signers)
		cs.typeAway(ct)
		if !ct.waitAccepted(testkit.WaitTimeout, func() bool { return ct.acceptedRound() >= killAt }) {
			t.Fatalf("round %d: %d of the %d tokens needed accepted within %v; a screen:\n%s", round, ct.acceptedRound(), killAt, testkit.WaitTimeout, cs.clients[0].Screen())
		}
		<-time.After(time.Duration(rng.IntN(3000)) * time.Microsecond) // anywhere in the append/ack cycle: randomises, synchronises nothing
		victim.kill(t)
		for _, cl := range cs.clients {
			if !cl.WaitEnded(testkit.WaitTimeout) { // what reached a screen counts: let every reader finish
				t.Fatalf("round %d: %s's session did not end after node %s died", round, cl.name, victim.name)
			}
		}
		cs.close()
		atKill := ct.acceptedRound()

		// The same people reconnect, to the node that is left, and go on.
		ct.reconnected()
		cs = connectSenders(t, ct, []string{other.c.Addr}, signers)
		base := make([]int, clusterSenderCount)
		for i := range base {
			base[i] = ct.acceptedBy(i)
		}
		cs.typeAway(ct)
		if !ct.waitAccepted(testkit.WaitTimeout, func() bool {
			for i := range base {
				if ct.acceptedBy(i) < base[i]+3 {
					return false
				}
			}
			return true
		}) {
			t.Fatalf("round %d: after reconnecting to node %s, the senders' tokens were not accepted; a screen:\n%s", round, other.name, cs.clients[0].Screen())
		}
		cs.close()
		victim.start(t)
		t.Logf("round %2d: node %s killed after %2d accepted (%d at the kill); %d accepted in all on node %s after reconnecting; %v",
			round, victim.name, killAt, atKill, ct.acceptedRound(), other.name, time.Since(start).Round(time.Millisecond))
		if t.Failed() {
			t.FailNow()
		}
	}
	recs := readStream(t, js.URL(), "lobby")
	stored := ct.checkStream(t, recs)
	checkSameOnNodes(t, nodes, signers["s0"], recs)
	ct.mu.Lock()
	typed, accepted := len(ct.typed), len(ct.accepted)
	ct.mu.Unlock()
	t.Logf("%d rounds in %v: %d tokens typed, %d accepted, %d stored (%d messages in the stream); none lost, none twice, the same order on both nodes",
		rounds, time.Since(began).Round(time.Millisecond), typed, accepted, stored, len(recs))
}

// TestClusterNATSServerLostMidBurstLosesNothing: three NATS servers, R3
// streams, two nodes with senders on both. In each round the server that
// leads the room's stream is stopped in the middle of the stream of
// tokens; the senders go on (the two servers left are a quorum), and the
// server is started again. Nothing accepted is lost or stored twice.
func TestClusterNATSServerLostMidBurstLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-server NATS cluster")
	}
	began := time.Now()
	seed := durSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x51ed2701a3c5b4e9))
	cluster := natstest.StartCluster(t, 3)
	users := make([]string, clusterSenderCount)
	for i := range users {
		users[i] = fmt.Sprintf("s%d", i)
	}
	nodes, signers := startClusterNodes(t, cluster.URLs(), 3, []string{"a", "b"}, users)
	ct := newClusterTokens(rng.Uint64(), clusterSenderCount)
	const rounds = 3
	for round := 1; round <= rounds; round++ {
		start := time.Now()
		ct.startRound(round)
		cs := connectSenders(t, ct, []string{nodes[0].c.Addr, nodes[1].c.Addr}, signers)
		// Slower than the node-kill test: a node whose subscription sat on
		// the stopped server stalls for about two heartbeats (natslog
		// Options.Heartbeat) and then catches up in one burst, and a burst
		// above a session's queue (512 messages) would end sessions as
		// too slow, which is not what this test is about.
		cs.pace = 25 * time.Millisecond
		cs.typeAway(ct)
		killAt := 5 + rng.IntN(40)
		if !ct.waitAccepted(testkit.WaitTimeout, func() bool { return ct.acceptedRound() >= killAt }) {
			t.Fatalf("round %d: %d of %d tokens accepted within %v", round, ct.acceptedRound(), killAt, testkit.WaitTimeout)
		}
		leader := streamLeader(cluster, "lobby")
		leader.Stop()
		atStop := ct.acceptedRound()
		// Every sender gets 5 more accepted with one server gone.
		base := make([]int, clusterSenderCount)
		for i := range base {
			base[i] = ct.acceptedBy(i)
		}
		if !ct.waitAccepted(testkit.WaitTimeout, func() bool {
			for i := range base {
				if ct.acceptedBy(i) < base[i]+5 {
					return false
				}
			}
			return true
		}) {
			t.Fatalf("round %d: with %s stopped, the senders' tokens stopped being accepted; a screen:\n%s", round, leader.Name(), cs.clients[0].Screen())
		}
		cs.close()
		leader.Start()
		cluster.WaitReady()
		t.Logf("round %d: %s (the stream's leader) stopped after %d accepted; %d accepted by the end; %v",
			round, leader.Name(), atStop, ct.acceptedRound(), time.Since(start).Round(time.Millisecond))
	}
	recs := readStream(t, cluster.URLs(), "lobby")
	stored := ct.checkStream(t, recs)
	checkSameOnNodes(t, nodes, signers["s0"], recs)
	t.Logf("%d rounds in %v: %d tokens stored, none lost, none twice, the same order on both nodes", rounds, time.Since(began).Round(time.Millisecond), stored)
}

// streamLeader returns the running server that leads room's stream (any
// running one if none is found).
func streamLeader(c *natstest.Cluster, roomName string) *natstest.Server {
	var any *natstest.Server
	for _, s := range c.Servers {
		srv := s.Internal()
		if srv == nil {
			continue
		}
		any = s
		if srv.JetStreamIsStreamLeader("$G", "PARLEY_ROOM_"+roomName) {
			return s
		}
	}
	return any
}

// TestClusterAllNATSDownTenSeconds: every NATS server stops for 10 s.
// Meanwhile /readyz says not ready, a person typing on a screen and a bot
// piping lines into `ssh host say` are told "not sent, retrying", and the
// other node shows neither line; nobody restarts anything. When NATS is
// back, /readyz is ready again, both kept lines are shown once on both
// nodes, in their place, sending goes on, and nothing accepted before is
// lost. Issue 15, Failures. (It also checks that --node names each node
// on /healthz and in the metrics.)
func TestClusterAllNATSDownTenSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a 10 s outage")
	}
	cluster := natstest.StartCluster(t, 3)
	nodes, signers := startClusterNodes(t, cluster.URLs(), 3, []string{"a", "b"}, []string{"alice", "bob", "carol"})
	a, b := nodes[0], nodes[1]
	for _, n := range nodes {
		n.waitReadyz(t, 200, testkit.WaitTimeout)
		// --node names the node on /healthz and in the metrics.
		if code, body, err := n.get("/healthz"); err != nil || code != 200 || body != "ok\nnode "+n.name+"\n" {
			t.Errorf("node %s: /healthz = %d %q %v, want ok and its name", n.name, code, body, err)
		}
		if _, body, err := n.get("/metrics"); err != nil || !strings.Contains(body, `parley_node_info{node="`+n.name+`"} 1`) {
			t.Errorf("node %s: /metrics lacks parley_node_info for it (%v)", n.name, err)
		}
	}
	alice, err := durDial(a.c.Addr, "alice", signers["alice"], clusterCols, clusterRows, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	bob, err := durDial(b.c.Addr, "bob", signers["bob"], clusterCols, clusterRows, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	alice.WaitText(t, "#lobby", testkit.WaitTimeout)
	bob.WaitText(t, "#lobby", testkit.WaitTimeout)

	// carol is a bot: `ssh host say` on node B, a line of stdin each.
	conn, err := testkit.DialKey(b.c.Addr, "carol", signers["carol"], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	say, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	sayIn, err := say.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	sayErr := &testkit.LockedBuffer{}
	say.Stderr = sayErr
	if err := say.Start("say"); err != nil {
		t.Fatal(err)
	}
	sayLine := func(s string) {
		t.Helper()
		if _, err := fmt.Fprintln(sayIn, s); err != nil {
			t.Fatalf("carol's say: %v", err)
		}
	}

	alice.Type("before the outage\r")
	sayLine("carol before the outage")
	for _, c := range []*durClient{alice, bob} {
		c.WaitText(t, "before the outage", testkit.WaitTimeout)
		c.WaitText(t, "carol before the outage", testkit.WaitTimeout)
	}

	down := time.Now()
	for _, s := range cluster.Servers {
		s.Stop()
	}
	body := a.waitReadyz(t, 503, testkit.WaitTimeout)
	if !strings.Contains(body, "NATS") {
		t.Errorf("/readyz while NATS is down says %q, want it to name NATS", body)
	}
	t.Logf("/readyz %v after NATS went: 503 %q", time.Since(down).Round(time.Millisecond), strings.TrimSpace(body))

	alice.Type("typed in the outage\r")
	alice.WaitText(t, "not sent, retrying", testkit.WaitTimeout)
	sayLine("carol in the outage")
	if !testkit.Poll(testkit.WaitTimeout, 20*time.Millisecond, func() bool { return strings.Contains(sayErr.String(), "not sent, retrying") }) {
		t.Fatalf("carol's say printed %q while NATS was down, want \"not sent, retrying\"", sayErr.String())
	}
	t.Logf("say printed: %q", strings.TrimSpace(sayErr.String()))
	if s := bob.Screen(); strings.Contains(s, "typed in the outage") || strings.Contains(s, "carol in the outage") {
		t.Fatalf("node B showed a line that was not stored:\n%s", s)
	}

	<-time.After(time.Until(down.Add(10 * time.Second))) // the outage lasts 10 s: the scenario, not a wait for anything
	for _, s := range cluster.Servers {
		s.Start()
	}
	cluster.WaitReady()
	up := time.Now()
	for _, n := range nodes {
		n.waitReadyz(t, 200, testkit.WaitTimeout)
	}
	for _, c := range []*durClient{alice, bob} {
		c.WaitText(t, "typed in the outage", testkit.WaitTimeout)
		c.WaitText(t, "carol in the outage", testkit.WaitTimeout)
	}
	t.Logf("both kept lines shown on both nodes %v after NATS was back", time.Since(up).Round(time.Millisecond))
	alice.Type("after the outage\r")
	sayLine("carol after the outage")
	for _, c := range []*durClient{alice, bob} {
		c.WaitText(t, "carol after the outage", testkit.WaitTimeout)
		c.WaitText(t, "alice after the outage", testkit.WaitTimeout)
	}
	sayIn.Close()
	if err := say.Wait(); err != nil {
		t.Errorf("carol's say: %v (stderr %q), want exit 0: every line was sent in the end", err, sayErr.String())
	}

	recs := readStream(t, cluster.URLs(), "lobby")
	var order []string
	count := map[string]int{}
	for _, r := range recs {
		if r.Kind == room.KindChat && strings.Contains(r.Text, "outage") {
			count[r.Text]++
			order = append(order, r.Text)
		}
	}
	want := []string{"before the outage", "carol before the outage", "typed in the outage", "carol in the outage", "after the outage", "carol after the outage"}
	for _, w := range want {
		if count[w] != 1 {
			t.Errorf("%q is in the stream %d times, want once; the stream's lines: %q", w, count[w], order)
		}
	}
	// Each sender's lines in the order sent.
	pos := map[string]int{}
	for i, s := range order {
		pos[s] = i
	}
	for _, pair := range [][2]string{{"before the outage", "typed in the outage"}, {"typed in the outage", "after the outage"},
		{"carol before the outage", "carol in the outage"}, {"carol in the outage", "carol after the outage"}} {
		if pos[pair[0]] > pos[pair[1]] {
			t.Errorf("%q is stored after %q: %q", pair[0], pair[1], order)
		}
	}
}
