package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// jetStream is an embedded NATS server with JetStream that can be stopped
// and started again on the same port and store.
type jetStream struct {
	t    *testing.T
	dir  string
	port int
	srv  *natsserver.Server
}

func startJetStream(t *testing.T) *jetStream {
	t.Helper()
	js := &jetStream{t: t, dir: t.TempDir(), port: -1}
	js.start()
	t.Cleanup(js.stop)
	return js
}

func (js *jetStream) start() {
	js.t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: js.port, JetStream: true, StoreDir: js.dir, NoLog: true, NoSigs: true})
	if err != nil {
		js.t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(waitTimeout) {
		js.t.Fatal("nats server not ready")
	}
	js.srv, js.port = srv, srv.Addr().(*net.TCPAddr).Port
}

func (js *jetStream) stop() {
	if js.srv != nil {
		js.srv.Shutdown()
		js.srv.WaitForShutdown()
		js.srv = nil
	}
}

// withNATS makes the server a node sharing its rooms through js, as
// main's --nats does (natswire.go); the connection closes after the server.
func withNATS(t *testing.T, js *jetStream, conn **nats.Conn) serverOpt {
	return withNATSNode(t, natsNode{urls: natsURL(js), conn: conn})
}

func natsURL(js *jetStream) string { return fmt.Sprintf("nats://127.0.0.1:%d", js.port) }

// People on two nodes see each other's lines on their screens, in the same
// order; with NATS down a sender's screen says the line was "not sent,
// retrying" and the other node does not show it; when NATS is back the
// kept line is shown once, in its place, and the same nodes carry on.
// Issue 15, first slice.
func TestTwoNodesOneChatOnScreens(t *testing.T) {
	js := startJetStream(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	var ncA *nats.Conn
	a := startServer(t, withUsers(alice, bob), withNATS(t, js, &ncA))
	b := startServer(t, withUsers(alice, bob), withNATS(t, js, nil))

	ca := a.connect(t, alice)
	ca.Expect(t, "alice")
	ca.Say(t, "hello from node a")
	ca.Expect(t, "hello from node a")
	cb := b.connect(t, bob)
	cb.Expect(t, "hello from node a") // the backlog, from the stream
	cb.Say(t, "hi from node b")
	for _, c := range []*client{ca, cb} {
		screen := c.Expect(t, "hi from node b")
		if i, j := strings.Index(screen, "hello from node a"), strings.Index(screen, "hi from node b"); i < 0 || j < i {
			t.Fatalf("%s: the two lines are not in the stream's order:\n%s", c.name, screen)
		}
	}

	js.stop()
	deadline := time.Now().Add(waitTimeout)
	for ncA.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("node A did not notice NATS went away")
		}
		<-time.After(5 * time.Millisecond) // polls the condition
	}
	ca.Say(t, "kept while down")
	ca.Expect(t, "not sent, retrying")
	if screen := cb.Screen(); strings.Contains(screen, "kept while down") {
		t.Fatalf("bob was shown a line that was not stored yet:\n%s", screen)
	}

	js.start()
	for !ncA.IsConnected() {
		if time.Now().After(deadline.Add(waitTimeout)) {
			t.Fatal("node A did not reconnect to NATS")
		}
		<-time.After(5 * time.Millisecond) // polls the condition
	}
	ca.Say(t, "back again")
	for _, c := range []*client{ca, cb} {
		screen := c.Expect(t, "back again")
		kept := strings.Index(screen, "kept while down")
		if kept < 0 || strings.Count(screen, "kept while down") != 1 || kept > strings.Index(screen, "back again") {
			t.Fatalf("%s: the line kept while NATS was down is not shown once, before the next one:\n%s", c.name, screen)
		}
	}
}
