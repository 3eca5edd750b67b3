package natsaccess

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/access"
	"parley/internal/testkit"
	"parley/keys"
	"parley/room"
)

// waitFor bounds a wait for a condition that passes in milliseconds.
const waitFor = 40 * time.Second

// jsServer is an embedded NATS server with JetStream that can be stopped
// and started again on the same port and store.
type jsServer struct {
	t    testing.TB
	dir  string
	port int
	srv  *server.Server
}

// startJS starts an embedded NATS server with JetStream on a free loopback
// port, stopped when the test ends, and returns its URL.
func startJS(t testing.TB) string { return startJSServer(t).url() }

func startJSServer(t testing.TB) *jsServer {
	t.Helper()
	s := &jsServer{t: t, dir: t.TempDir(), port: -1}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *jsServer) start() {
	s.t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: s.port, JetStream: true, StoreDir: s.dir, NoLog: true, NoSigs: true})
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(waitFor) {
		s.t.Fatal("nats server not ready")
	}
	s.srv, s.port = srv, srv.Addr().(*net.TCPAddr).Port
}

func (s *jsServer) stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

func (s *jsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// node is one parley node's access: its lists, hub and authorized_keys,
// over a Shared of its own.
type node struct {
	sh   *Shared
	ctl  *access.Control
	hub  *room.Hub
	ks   *keys.Store
	path string // authorized_keys
}

// startNode builds a node whose data dir is dir (kept across restarts) on
// the NATS server at url, as app.New does, and starts its Shared. stop
// ends it; Cleanup does too.
func startNode(t testing.TB, url, dir string) *node {
	t.Helper()
	return startNodeWith(t, url, dir, nil)
}

// startNodeWith is startNode with local as the node's own RoomStore (nil:
// in memory).
func startNodeWith(t testing.TB, url, dir string, local room.RoomStore) *node {
	t.Helper()
	nc, err := nats.Connect(url, nats.ReconnectBufSize(-1), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	ctx := context.Background()
	sh, err := New(ctx, nc, Options{KeysPoll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := access.Open(ctx, sh.AccessStore(), nil)
	if err != nil {
		t.Fatal(err)
	}
	hub, err := room.New(room.Config{Rooms: sh.RoomStore(local)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "authorized_keys")
	if _, err := os.Stat(path); err != nil {
		writeKeys(t, path)
	}
	ks, err := keys.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{sh: sh, ctl: ctl, hub: hub, ks: ks, path: path}
	if err := sh.Start(Node{Hub: hub, Access: ctl, Keys: ks, ReloadKeys: func() error { _, err := ks.Reload(); return err }}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	n.sh.Stop()
	_ = n.hub.Close(context.Background(), "")
}

// writeKeys writes an authorized_keys file of these lines.
func writeKeys(t testing.TB, path string, lines ...string) {
	t.Helper()
	text := strings.Join(lines, "\n")
	if len(lines) > 0 {
		text += "\n"
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// has reports whether n's authorized_keys, as loaded, lists u.
func (n *node) has(u *testkit.User) bool {
	_, ok := n.ks.Current().Lookup(u.Pub)
	return ok
}

// eventually waits until cond holds, failing the test after waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, waitFor, what, cond)
}

// getKey reads the shared line of the key with fingerprint fp.
func (s *Shared) getKey(ctx context.Context, fp string) (string, bool, error) {
	e, err := s.keys.Get(ctx, keyOf(fp))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(e.Value()), true, nil
}
