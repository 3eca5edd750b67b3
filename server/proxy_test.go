package server

import (
	"net"
	"strings"
	"testing"

	"github.com/pires/go-proxyproto"
	gossh "golang.org/x/crypto/ssh"
)

// Issue 18 item 8: behind a TCP proxy every client came from the proxy's
// address. These tests play the proxy: they open each connection with a
// real PROXY header (v1 text, v2 binary) written by go-proxyproto.

// dialWithHeader connects to the server from 127.0.0.1 and sends a PROXY
// header of version (1 or 2) naming src as the client.
func dialWithHeader(t *testing.T, addr string, version byte, src string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	h := proxyproto.HeaderProxyFromAddrs(version, mustTCPAddr(t, src), nc.RemoteAddr())
	if _, err := h.WriteTo(nc); err != nil {
		t.Fatal(err)
	}
	return nc
}

func mustTCPAddr(t *testing.T, s string) *net.TCPAddr {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sshOver runs the SSH client handshake as u over nc and runs cmd.
func sshOver(t *testing.T, nc net.Conn, u *tuser, cmd string) (result, error) {
	t.Helper()
	conn, chans, reqs, err := gossh.NewClientConn(nc, "proxied", &gossh.ClientConfig{
		User: u.name, Auth: []gossh.AuthMethod{gossh.PublicKeys(u.signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: testWait,
	})
	if err != nil {
		return result{}, err
	}
	c := gossh.NewClient(conn, chans, reqs)
	defer c.Close()
	return runOn(t, c, cmd, ""), nil
}

func TestProxyProtocolGivesEachClientItsAddress(t *testing.T) {
	for _, version := range []byte{1, 2} {
		t.Run("v"+string('0'+version), func(t *testing.T) {
			// alice may only log in from 192.0.2.44: only a believed header
			// gets her in through a proxy on 127.0.0.1.
			alice := newTUser(t, "alice")
			ts := startTestServerWith(t, "", func(c *testConfig) {
				c.ProxyProtocol = []string{"127.0.0.0/8"}
				c.Defences.Gate.MaxUnauthPerSource = 1
				c.Defences.Gate.FailuresBeforePenalty = 1000
			}, alice.line(`from="192.0.2.44"`))

			// Two clients behind the one proxy are two sources: with one
			// unauthenticated connection allowed per address, each gets
			// its own, and a second from the first address is refused.
			a1 := dialWithHeader(t, ts.addr, version, "203.0.113.7:40000")
			if !sshBanner(a1) {
				t.Fatal("the first client behind the proxy was refused")
			}
			b1 := dialWithHeader(t, ts.addr, version, "198.51.100.9:40000")
			if !sshBanner(b1) {
				t.Fatal("a second client behind the proxy was refused: both counted as the proxy's address")
			}
			a2 := dialWithHeader(t, ts.addr, version, "203.0.113.7:40001")
			if sshBanner(a2) {
				t.Fatal("a second connection from 203.0.113.7 was admitted past the per-address cap of 1")
			}
			if n := strings.Count(ts.logs.String(), `addr=203.0.113.7:40001 why="guard: too many connections from this source"`); n != 1 {
				t.Errorf("the refusal was not logged with the client's address:\n%s", ts.logs.String())
			}
			a1.Close()
			b1.Close()
			eventually(t, "the held connections released", func() bool { return ts.srv.GateStats().Unauthenticated == 0 })

			// The key's from= option sees the client's address.
			r, err := sshOver(t, dialWithHeader(t, ts.addr, version, "192.0.2.44:50000"), alice, "who")
			if err != nil || r.code != 0 {
				t.Fatalf("alice through the proxy from 192.0.2.44: %v %+v", err, r)
			}
			if !strings.Contains(ts.logs.String(), "addr=192.0.2.44:50000") {
				t.Errorf("the log does not show the client's address:\n%s", ts.logs.String())
			}
			if _, err := sshOver(t, dialWithHeader(t, ts.addr, version, "192.0.2.45:50000"), alice, "who"); err == nil {
				t.Error("alice got in from 192.0.2.45: her from= option was not applied to the client's address")
			}
		})
	}
}

func TestProxyHeaderFromAnUntrustedPeerIsRefused(t *testing.T) {
	for _, version := range []byte{1, 2} {
		t.Run("v"+string('0'+version), func(t *testing.T) {
			alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
			ts := startTestServerWith(t, "", func(c *testConfig) {
				c.ProxyProtocol = []string{"10.0.0.0/8"} // not the test's 127.0.0.1
				c.Defences.Gate.FailuresBeforePenalty = 1000
			}, alice.line(`from="192.0.2.44"`), bob.line(""))
			if _, err := sshOver(t, dialWithHeader(t, ts.addr, version, "192.0.2.44:50000"), alice, "who"); err == nil {
				t.Fatal("a PROXY header from an untrusted peer was believed")
			}
			if _, err := sshOver(t, dialWithHeader(t, ts.addr, version, "192.0.2.44:50000"), bob, "who"); err == nil {
				t.Fatal("a connection with a PROXY header from an untrusted peer was served")
			}
			eventually(t, "the refusal logged", func() bool {
				return strings.Contains(ts.logs.String(), "PROXY header from a peer not trusted to send one")
			})
			// The same peer without a header is an ordinary client.
			if r := ts.run(t, bob, "", "who", ""); r.code != 0 {
				t.Fatalf("bob without a header: %+v", r)
			}
		})
	}
}

func TestProxyTrustedPeerMustSendAHeader(t *testing.T) {
	bob := newTUser(t, "bob")
	conns := newCountingConns()
	ts := startTestServerWith(t, "", func(c *testConfig) {
		c.ProxyProtocol = []string{"127.0.0.1"}
		c.Conns = conns
	}, bob.line(""))
	if _, err := ts.dial(bob, ""); err == nil {
		t.Fatal("a connection from the trusted proxy without a PROXY header was served as the proxy's address")
	}
	// Logged at debug (a TCP health check looks the same); counted.
	eventually(t, "the refusal counted", func() bool { return conns.refusedCount("proxy") == 1 })
}

func TestProxyHeaderIsNotParsedWithoutTheFlag(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	ts := startTestServer(t, "", alice.line(`from="192.0.2.44"`), bob.line(""))
	// A v1 header is a line before the SSH version, which SSH ignores: the
	// connection goes on, from its real address.
	if _, err := sshOver(t, dialWithHeader(t, ts.addr, 1, "192.0.2.44:50000"), alice, "who"); err == nil {
		t.Fatal("a PROXY header was believed without --proxy-protocol")
	}
	r, err := sshOver(t, dialWithHeader(t, ts.addr, 1, "192.0.2.44:50001"), bob, "who")
	if err != nil || r.code != 0 {
		t.Fatalf("bob after a v1 header without the flag: %v %+v", err, r)
	}
	if strings.Contains(ts.logs.String(), "192.0.2.44") {
		t.Errorf("the header's address reached the log:\n%s", ts.logs.String())
	}
	// A v2 header is binary garbage to SSH: the connection fails, and the
	// address is not believed either.
	if _, err := sshOver(t, dialWithHeader(t, ts.addr, 2, "192.0.2.44:50002"), alice, "who"); err == nil {
		t.Fatal("a v2 PROXY header was believed without --proxy-protocol")
	}
}

func TestProxyProtocolRangesAreChecked(t *testing.T) {
	for _, bad := range [][]string{{"10.0.0.0/33"}, {"proxy.example.org"}, {" "}} {
		if _, err := compose(testConfig{Config: Config{DataDir: t.TempDir(), ProxyProtocol: bad}}); err == nil {
			t.Errorf("ProxyProtocol %q accepted", bad)
		}
	}
}
