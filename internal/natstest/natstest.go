// Package natstest runs NATS servers with JetStream inside a test: one
// server, or a cluster of three whose streams can be replicated (R3), each
// server stoppable and startable again on the same ports and store, so
// that tests can take servers away mid-burst and bring them back.
//
// It lives under internal/ and is imported only by parley's tests. It
// imports no parley package.
//
// Ports: a server's client port is chosen by the kernel at its first
// start; a cluster's route ports are found free before any server starts
// (JetStream in a cluster needs its routes configured from the start), and
// every server routes to every other, as a fixed configuration would. A
// server started again takes the same ports.
//
// Concurrency: a Server's methods are for the test goroutine (and
// t.Cleanup); they are not safe for concurrent use with one another.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ReadyTimeout bounds a server's start and a cluster's election. It only
// matters when something is wrong.
const ReadyTimeout = 30 * time.Second

// Server is one embedded NATS server with JetStream (file storage in a
// directory of its own that outlives Stop).
type Server struct {
	t           testing.TB
	name        string
	cluster     string // "": a standalone server
	dir         string
	clientPort  int // -1 until the first start
	clusterPort int
	routes      func() []*url.URL // the other servers' cluster URLs
	srv         *server.Server
}

// Start runs a standalone NATS server with JetStream for the test; Cleanup
// stops it.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, name: "n1", dir: t.TempDir(), clientPort: -1, clusterPort: -1}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server (again), on its ports and store. It fails the
// test if it does not come up.
func (s *Server) Start() {
	s.t.Helper()
	if s.srv != nil {
		return
	}
	opts := &server.Options{
		ServerName: s.name,
		Host:       "127.0.0.1",
		Port:       s.clientPort,
		JetStream:  true,
		StoreDir:   s.dir,
		NoLog:      true,
		NoSigs:     true,
	}
	if s.cluster != "" {
		opts.Cluster = server.ClusterOpts{Name: s.cluster, Host: "127.0.0.1", Port: s.clusterPort}
		if s.routes != nil {
			opts.Routes = s.routes()
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		s.t.Fatalf("natstest: server %s: %v", s.name, err)
	}
	srv.Start()
	if !srv.ReadyForConnections(ReadyTimeout) {
		srv.Shutdown()
		s.t.Fatalf("natstest: server %s did not accept connections within %v", s.name, ReadyTimeout)
	}
	s.srv = srv
	s.clientPort = srv.Addr().(*net.TCPAddr).Port
	if s.cluster != "" {
		s.clusterPort = srv.ClusterAddr().Port
	}
}

// Stop shuts the server down (as a crash would look to its clients and
// peers: connections drop) and waits until it has. Its store stays.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Running reports whether the server is started.
func (s *Server) Running() bool { return s.srv != nil }

// Name is the server's name (n1, n2, ...).
func (s *Server) Name() string { return s.name }

// URL is the server's client URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.clientPort) }

// Internal is the running nats-server, or nil when stopped: for
// inspection (JetStream state, leaders).
func (s *Server) Internal() *server.Server { return s.srv }

func (s *Server) routeURL() *url.URL {
	return &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", s.clusterPort)}
}

// Cluster is a NATS cluster of servers with JetStream, for tests.
type Cluster struct {
	t       testing.TB
	Servers []*Server
}

// StartCluster runs a cluster of n servers (3 for R3 streams) with
// JetStream, and waits until it has elected a JetStream meta leader with
// every server as a peer. Cleanup stops them.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	ports, err := clusterPorts(n)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	for i := range n {
		s := &Server{t: t, name: fmt.Sprintf("n%d", i+1), cluster: "parley-test", dir: t.TempDir(), clientPort: -1, clusterPort: ports[i]}
		s.routes = func() []*url.URL { return c.routesExcept(s) }
		c.Servers = append(c.Servers, s)
	}
	t.Cleanup(func() {
		for _, s := range c.Servers {
			s.Stop()
		}
	})
	for _, s := range c.Servers {
		s.Start()
	}
	c.WaitReady()
	return c
}

// clusterPorts finds n free loopback ports for the servers' cluster
// listeners. JetStream in a cluster refuses to start without its routes
// configured, so every server must know the others' ports before any
// starts: the ports are taken here, all at once (so they differ), and let
// go just before the servers bind them (a port taken by someone else in
// between makes Start fail loudly, not wrongly).
func clusterPorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("a cluster port: %w", err)
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// routesExcept lists the cluster URLs of every server but self that has
// a port by now.
func (c *Cluster) routesExcept(self *Server) []*url.URL {
	var out []*url.URL
	for _, s := range c.Servers {
		if s != self && s.clusterPort > 0 {
			out = append(out, s.routeURL())
		}
	}
	return out
}

// URLs is every server's client URL, comma-separated, as --nats takes them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.URL()
	}
	return strings.Join(urls, ",")
}

// WaitReady waits until every running server is routed to every other
// running one, one of them is the JetStream meta leader and sees every
// running server as an online peer, and it answers a client, failing the
// test after ReadyTimeout.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	deadline := time.Now().Add(ReadyTimeout)
	tick := time.NewTicker(20 * time.Millisecond) // polls the condition
	defer tick.Stop()
	for {
		why := c.notReady()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("natstest: the cluster is not ready after %v: %s", ReadyTimeout, why)
		}
		<-tick.C
	}
}

func (c *Cluster) notReady() string {
	running := 0
	for _, s := range c.Servers {
		if s.srv != nil {
			running++
		}
	}
	leader := false
	for _, s := range c.Servers {
		if s.srv == nil {
			continue
		}
		if got := s.srv.NumRoutes(); got < running-1 {
			return fmt.Sprintf("%s has %d routes of %d", s.name, got, running-1)
		}
		if s.srv.JetStreamIsLeader() {
			leader = true
			// Every running server is an online peer of the meta group
			// (else a stream's replicas find "no suitable peers").
			if got := len(s.srv.JetStreamClusterPeers()); got < running {
				return fmt.Sprintf("the meta leader %s sees %d peers of %d", s.name, got, running)
			}
		}
	}
	if !leader {
		return "no JetStream meta leader"
	}
	// A client can use JetStream: the meta leader answers.
	for _, s := range c.Servers {
		if s.srv == nil {
			continue
		}
		nc, err := nats.Connect(s.URL(), nats.Timeout(time.Second))
		if err != nil {
			return err.Error()
		}
		defer nc.Close()
		return accountInfo(nc)
	}
	return "no server running"
}

func accountInfo(nc *nats.Conn) string {
	m, err := nc.Request("$JS.API.INFO", nil, time.Second)
	if err != nil {
		return "JetStream: " + err.Error()
	}
	if strings.Contains(string(m.Data), `"error"`) {
		return "JetStream: " + string(m.Data)
	}
	return ""
}
