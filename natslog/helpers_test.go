package natslog_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"parley/natslog"
	"parley/room"
)

// waitFor bounds every wait for a condition: generous, since JetStream on a
// loaded machine and a consumer recreating itself after a restart take
// their time, and a pass never waits this long.
const waitFor = 30 * time.Second

// jsServer is an embedded NATS server with JetStream, storing under dir.
type jsServer struct {
	t    testing.TB
	dir  string
	port int
	srv  *server.Server
}

// startJS starts a JetStream server on a free loopback port with a fresh
// store directory.
func startJS(t testing.TB) *jsServer {
	t.Helper()
	s := &jsServer{t: t, dir: t.TempDir(), port: -1}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// start (re)starts the server on its port and store directory.
func (s *jsServer) start() {
	s.t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: s.port, JetStream: true, StoreDir: s.dir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(waitFor) {
		s.t.Fatal("nats server not ready")
	}
	s.srv = srv
	s.port = srv.Addr().(*net.TCPAddr).Port
}

// stop shuts the server down and waits until it is gone.
func (s *jsServer) stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

func (s *jsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// dial connects to s as a parley node does (natswire.go): no buffering
// while disconnected, reconnecting forever, quickly.
func dial(t testing.TB, s *jsServer) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.url(), nats.ReconnectBufSize(-1), nats.MaxReconnects(-1),
		nats.ReconnectWait(20*time.Millisecond), nats.ReconnectJitter(0, 0))
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// newLog returns a Log on its own connection to s: one node's.
func newLog(t testing.TB, s *jsServer) (*natslog.Log, *nats.Conn) {
	t.Helper()
	nc := dial(t, s)
	l, err := natslog.New(nc, natslog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l, nc
}

// newNode returns a hub whose Log and History are a natslog.Log on its own
// connection to s, closed when the test ends (before the connection).
func newNode(t testing.TB, s *jsServer) (*room.Hub, *nats.Conn) {
	t.Helper()
	l, nc := newLog(t, s)
	h, err := room.New(room.Config{Log: l, History: l.History()})
	if err != nil {
		t.Fatalf("room.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := h.Close(ctx, ""); err != nil {
			t.Errorf("hub Close: %v", err)
		}
	})
	return h, nc
}

func connect(t testing.TB, h *room.Hub, id, name string) *room.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	s, err := h.Connect(ctx, room.Identity{ID: id, Name: name})
	if err != nil {
		t.Fatalf("Connect(%s): %v", name, err)
	}
	return s
}

func send(t testing.TB, s *room.Session, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s.Send(ctx, text); err != nil {
		t.Fatalf("Send(%q) from %s: %v", text, s.Name(), err)
	}
}

// next returns the session's next event, failing if none comes in time.
func next(t testing.TB, s *room.Session) room.Message {
	t.Helper()
	select {
	case m, ok := <-s.Events():
		if !ok {
			t.Fatalf("%s: session ended (%s) while an event was expected", s.Name(), s.Reason())
		}
		return m
	case <-time.After(waitFor):
		t.Fatalf("%s: no event within %v", s.Name(), waitFor)
	}
	panic("unreachable")
}

// untilChat reads s up to the chat line text and returns it and what came
// before it.
func untilChat(t testing.TB, s *room.Session, text string) (room.Message, []room.Message) {
	t.Helper()
	var before []room.Message
	for {
		m := next(t, s)
		if m.Kind == room.KindChat && m.Text == text {
			return m, before
		}
		before = append(before, m)
	}
}

// chats reads s until it has seen n chat lines and returns them.
func chats(t testing.TB, s *room.Session, n int) []room.Message {
	t.Helper()
	var got []room.Message
	for len(got) < n {
		if m := next(t, s); m.Kind == room.KindChat {
			got = append(got, m)
		}
	}
	return got
}

// eventually waits for cond, failing the test with what after waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(waitFor)
	tick := time.NewTicker(5 * time.Millisecond) // polls the condition
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", waitFor, what)
		case <-tick.C:
		}
	}
}
