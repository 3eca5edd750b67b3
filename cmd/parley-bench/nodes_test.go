package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkNodes fails the test unless each node had receivers and saw every
// token, and JetStream acknowledged at least every token sent.
func checkNodes(t *testing.T, res result, nodes int) {
	t.Helper()
	if len(res.Nodes) != nodes {
		t.Fatalf("%d nodes reported, want %d: %+v", len(res.Nodes), nodes, res.Nodes)
	}
	for i, n := range res.Nodes {
		if n.SSHReceivers == 0 || n.WebReceivers == 0 || n.Expected == 0 || n.Seen != n.Expected || n.Fraction != 1 || n.Latency.N != int(n.Seen) {
			t.Errorf("node %d: %+v, want SSH and web receivers that saw everything", i+1, n)
		}
	}
	j := res.JetStream
	if j == nil || res.Delivery == nil {
		t.Fatalf("no JetStream figures (%+v) or deliveries", j)
	}
	// Every token is one acknowledged message in the room's stream, in
	// the stream's sequence; a join or leave during the run adds one.
	if j.Stream != "PARLEY_ROOM_lobby" || j.TokensSent != res.Delivery.TokensSent || j.AckedByEnd < j.TokensSent ||
		j.AckedDuringSend > j.AckedByEnd || j.AckedDuringSend < 1 || j.AckedPerS <= 0 {
		t.Errorf("jetstream: %+v", j)
	}
}

// TestTwoNodesInProcess: -inprocess -nodes 2 starts two nodes sharing
// rooms through an embedded JetStream server; SSH and web sessions are
// spread over both, senders of each kind on different nodes, and every
// token reaches every receiver on either node.
func TestTwoNodesInProcess(t *testing.T) {
	before := runtime.NumGoroutine()
	res, code := runJSON(t, "-inprocess", "-nodes", "2", "-sessions", "4", "-senders", "2", "-web-sessions", "2", "-web-senders", "1",
		"-rate", "2", "-duration", "2s", "-quiet", "200ms", "-drain", "60s", "-timeout", "120s")
	if code != exitOK || !res.Pass {
		t.Fatalf("exit %d, pass %v, problems %q", code, res.Pass, res.Problems)
	}
	if !strings.Contains(res.Mode, "2 nodes") || len(strings.Split(res.Addr, ",")) != 2 {
		t.Errorf("mode %q, addr %q: want two nodes", res.Mode, res.Addr)
	}
	checkDelivery(t, "SSH", res.Delivery, 4)
	checkDelivery(t, "web", res.WebDelivery, 2)
	checkNodes(t, res, 2)
	waitGoroutines(t, before) // the nodes, their NATS connections and the NATS server are gone
}

// TestExternalNodes: the external mode over several nodes (-addrs, one
// -web page each, -pid per node, -host-key of each, -nats), against two
// nodes started here as parley --nats would run them.
func TestExternalNodes(t *testing.T) {
	srv, err := startInProcess(defaultSeed, 6, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.close(time.Now().Add(serverStopMax)); err != nil {
			t.Errorf("closing the nodes: %v", err)
		}
	})
	var addrs, webs, fps, pids []string
	for _, nd := range srv.nodes {
		addrs = append(addrs, nd.addr)
		webs = append(webs, nd.webURL)
		fps = append(fps, nd.app.HostKeyFingerprint())
		pids = append(pids, strconv.Itoa(os.Getpid()))
	}
	res, code := runJSON(t, "-addrs", strings.Join(addrs, ","), "-web", strings.Join(webs, ","),
		"-host-key", strings.Join(fps, ","), "-pid", strings.Join(pids, ","), "-nats", srv.nats.url(),
		"-sessions", "4", "-senders", "1", "-web-sessions", "2", "-web-senders", "1",
		"-rate", "2", "-duration", "2s", "-quiet", "200ms", "-drain", "60s", "-timeout", "120s")
	if code != exitOK || !res.Pass {
		t.Fatalf("exit %d, pass %v, problems %q", code, res.Pass, res.Problems)
	}
	checkDelivery(t, "SSH", res.Delivery, 4)
	checkDelivery(t, "web", res.WebDelivery, 2)
	checkNodes(t, res, 2)
	if p := res.Process; p == nil || len(p.PIDs) != 2 || p.CPUSendPercent <= 0 {
		t.Errorf("process: %+v, want the two nodes' sums", p)
	}
	for i, n := range res.Nodes {
		if n.PID != os.Getpid() || n.Web != webs[i] {
			t.Errorf("node %d: %+v", i+1, n)
		}
	}
}

// TestWrongHostKeyRefused: with -host-key, a node whose key is not in the
// list is not logged into, by SSH or for a sign-in link.
func TestWrongHostKeyRefused(t *testing.T) {
	srv, err := startInProcess(defaultSeed, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.close(time.Now().Add(serverStopMax)) })
	nd := srv.nodes[0]
	res, code := runJSON(t, "-addr", nd.addr, "-web", nd.webURL, "-host-key", "SHA256:notthisone",
		"-sessions", "1", "-senders", "0", "-web-sessions", "1", "-quiet", "200ms", "-timeout", "60s")
	if code != exitFail || res.Pass {
		t.Fatalf("exit %d, pass %v: want a failure", code, res.Pass)
	}
	for _, c := range []*connectStats{res.Connect, res.WebConnect} {
		if c == nil || c.Failed != 1 || len(c.Errors) != 1 || !strings.Contains(c.Errors[0], "host key") {
			t.Errorf("connect: %+v, want one failure for the host key", c)
		}
	}
}
