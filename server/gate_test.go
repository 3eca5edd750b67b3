package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"parley/guard"
)

// Tests of connection admission: guests under the unauthenticated caps
// (issue 18 item 2), a classroom behind one address (issue 18 item 6),
// idle authenticated connections (issue 18 item 5).

// countingConns records what the server reports to its ConnObserver.
type countingConns struct {
	mu      sync.Mutex
	auth    map[string]int
	refused map[string]int
}

func newCountingConns() *countingConns {
	return &countingConns{auth: map[string]int{}, refused: map[string]int{}}
}

func (c *countingConns) ConnectionOpened() {}
func (c *countingConns) AuthResult(r string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auth[r]++
}
func (c *countingConns) ConnectionRefused(r string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refused[r]++
}
func (c *countingConns) authCount(r string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth[r]
}
func (c *countingConns) refusedCount(r string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused[r]
}

// handshakeOnly completes the SSH handshake as u and holds the connection
// without opening a session.
func (ts *testServer) handshakeOnly(u *tuser, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	if len(auth) == 0 {
		auth = []gossh.AuthMethod{gossh.PublicKeys(u.signer)}
	}
	return ts.dialWith(u, "", auth...)
}

// holdMany opens n connections as u at once (8 in flight) and returns the
// ones that got through the handshake and the errors of the others.
func (ts *testServer) holdMany(t *testing.T, n int, u *tuser, auth ...gossh.AuthMethod) (held []*gossh.Client, errs []error) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := ts.handshakeOnly(u, auth...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			held = append(held, c)
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	return held, errs
}

func isClosedEarly(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return errors.Is(err, io.EOF) || strings.Contains(s, "EOF") || strings.Contains(s, "connection reset")
}

// Issue 18 item 2: while an invite is open, unknown keys pass the
// handshake to run join CODE; they stay counted as unauthenticated, so the
// per-address cap holds them as it holds plain TCP (400 were held before).
func TestGuestsCountAsUnauthenticatedUntilJoin(t *testing.T) {
	alice := newTUser(t, "alice")
	conns := newCountingConns()
	ts := startTestServerWith(t, "", func(c *testConfig) {
		c.Conns = conns
		c.Defences.Gate.FailuresBeforePenalty = 1000 // this test is about the caps
	}, alice.line("admin"))
	code := invite(t, ts, alice, "--uses 100")
	perSource := guard.DefaultGateConfig().MaxUnauthPerSource

	stranger := newTUser(t, "stranger")
	const n = 60
	held, errs := ts.holdMany(t, n, stranger)
	t.Logf("%d connections with an unlisted key while an invite is open: %d held, %d refused", n, len(held), len(errs))
	if len(held) != perSource {
		t.Errorf("%d guest connections held, want the per-address cap of unauthenticated connections, %d", len(held), perSource)
	}
	for _, err := range errs {
		if !isClosedEarly(err) {
			t.Errorf("a refused guest connection: %v, want it closed before the handshake", err)
			break
		}
	}
	if st := ts.srv.GateStats(); st.Unauthenticated != perSource {
		t.Errorf("the gate counts %d unauthenticated connections, want %d", st.Unauthenticated, perSource)
	}
	if got := conns.refusedCount("source"); got != n-perSource {
		t.Errorf("parley_connections_refused_total{reason=source} = %d, want %d", got, n-perSource)
	}
	if got := conns.authCount("refused"); got != 0 {
		t.Errorf("guests counted as refused: %d", got)
	}
	if got := conns.authCount("guest"); got != perSource {
		t.Errorf("auth results guest = %d, want %d", got, perSource)
	}
	// Guests that leave without joining are failed logins.
	for _, c := range held {
		c.Close()
	}
	eventually(t, "the guests gone", func() bool { return ts.srv.GateStats().Unauthenticated == 0 })
	if got := conns.authCount("failed"); got != perSource {
		t.Errorf("parley_auth_total{result=failed} = %d, want %d (one per guest that left)", got, perSource)
	}

	// A guest whose join succeeds leaves the unauthenticated counts and is
	// no failed login.
	newbie := newTUser(t, "newbie")
	c, err := ts.dial(newbie, "")
	if err != nil {
		t.Fatal(err)
	}
	if ts.srv.GateStats().Unauthenticated != 1 {
		t.Fatalf("a guest before join: %+v", ts.srv.GateStats())
	}
	if r := runOn(t, c, "join "+code, ""); r.code != 0 {
		t.Fatalf("join: %d %q", r.code, r.stderr)
	}
	eventually(t, "the joined guest authenticated", func() bool { return ts.srv.GateStats().Unauthenticated == 0 })
	c.Close()
	if got := conns.authCount("joined"); got != 1 {
		t.Errorf("auth results joined = %d, want 1", got)
	}
	failedBefore := conns.authCount("failed")
	eventually(t, "the connection closed", func() bool { return ts.srv.keyConns.Stats().Sessions == 0 })
	if got := conns.authCount("failed"); got != failedBefore {
		t.Errorf("a guest who joined was counted as failed")
	}
}

// Issue 18 item 2: a wrong code, or anything but join, is a failed login
// toward the address's penalty.
func TestGuestFailuresFeedThePenalty(t *testing.T) {
	alice := newTUser(t, "alice")
	ts := startTestServerWith(t, "", nil, alice.line("admin"))
	invite(t, ts, alice, "--uses 5")
	eve := newTUser(t, "eve")
	fails := guard.DefaultGateConfig().FailuresBeforePenalty
	for i := range fails {
		cmd := "join WRONGCODE1234"
		if i%2 == 1 {
			cmd = "who"
		}
		r := ts.run(t, eve, "", cmd, "")
		if r.code != 1 {
			t.Fatalf("guest %q: exit %d %q", cmd, r.code, r.stderr)
		}
		if i < fails-1 && ts.srv.PenaltyLeft("127.0.0.1") != 0 {
			t.Fatalf("penalized after %d guest failures", i+1)
		}
	}
	eventually(t, "the address penalized", func() bool { return ts.srv.PenaltyLeft("127.0.0.1") > 0 })
}

// Issue 18 item 6: a classroom behind one NAT address. Sixty different
// keys from 127.0.0.1 all get their chat screen, while an unauthenticated
// flood from the same address is still capped.
func TestClassroomBehindOneAddress(t *testing.T) {
	const students = 60
	var lines []string
	var us []*tuser
	for i := range students {
		u := newTUser(t, fmt.Sprintf("s%02d", i))
		us = append(us, u)
		lines = append(lines, u.line(""))
	}
	ts := startTestServer(t, "", lines...)
	var wg sync.WaitGroup
	errs := make(chan error, students)
	sem := make(chan struct{}, 8)
	for _, u := range us {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := ts.dial(u, "")
			if err != nil {
				errs <- fmt.Errorf("%s: %w", u.name, err)
				return
			}
			t.Cleanup(func() { c.Close() })
			sess, err := c.NewSession()
			if err != nil {
				errs <- err
				return
			}
			var stderr bytes.Buffer
			sess.Stderr = &stderr
			out, _ := sess.StdoutPipe()
			go func() { _, _ = io.Copy(io.Discard, out) }()
			if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
				errs <- err
				return
			}
			if err := sess.Shell(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually(t, fmt.Sprintf("%d students in the room", students), func() bool {
		people, _ := ts.hub().Online()
		return people == students
	})

	// An unauthenticated flood from the same address: plain TCP that never
	// speaks SSH. The students do not count against its cap.
	perSource := guard.DefaultGateConfig().MaxUnauthPerSource
	admitted := 0
	for range 40 {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		if sshBanner(nc) {
			admitted++
		}
	}
	if admitted != perSource {
		t.Errorf("%d of 40 silent connections were admitted, want the cap of %d", admitted, perSource)
	}
	if people, _ := ts.hub().Online(); people != students {
		t.Errorf("%d students left in the room during the flood", people)
	}
}

// sshBanner reports whether the server sent its SSH version line on nc
// (admitted) rather than closing it (refused by the gate).
func sshBanner(nc net.Conn) bool {
	_ = nc.SetReadDeadline(time.Now().Add(testWait))
	defer nc.SetReadDeadline(time.Time{})
	buf := make([]byte, len(serverVersion))
	_, err := io.ReadFull(nc, buf)
	return err == nil && string(buf) == serverVersion
}

// Issue 18 item 5: authenticated connections that never open a session
// were held without limit (100 idle connections of one key). They are
// capped per key, told why, freed on close, and reaped by keepalives like
// any other.
func TestIdleConnectionsOfOneKeyAreCapped(t *testing.T) {
	bot := newTUser(t, "bot")
	ts := startTestServer(t, "", bot.line(""))
	perKey := guard.DefaultMaxConnsPerKey
	var told syncBuffer
	auth := []gossh.AuthMethod{
		gossh.PublicKeys(bot.signer),
		gossh.KeyboardInteractive(func(_, instruction string, _ []string, _ []bool) ([]string, error) {
			told.Write([]byte(instruction))
			return nil, nil
		}),
	}
	held, errs := ts.holdMany(t, 100, bot, auth...)
	t.Logf("100 idle connections of one key: %d held, %d refused", len(held), len(errs))
	if len(held) != perKey {
		t.Fatalf("%d idle connections of one key held, want %d", len(held), perKey)
	}
	for _, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
			t.Fatalf("a refused connection: %v", err)
		}
	}
	if want := fmt.Sprintf("you already have %d connections open; close one first", perKey); !strings.Contains(told.String(), want) {
		t.Errorf("the refused client was not told %q: %q", want, told.String())
	}
	// They are authenticated: they hold no unauthenticated slot, and were
	// no failed logins.
	eventually(t, "the refused connections closed", func() bool { return ts.srv.GateStats().Unauthenticated == 0 })
	if st := ts.srv.GateStats(); st.Tracked != 0 {
		t.Errorf("refusals at the connection cap counted as failed logins: %+v", st)
	}
	// Closing one frees its slot.
	held[0].Close()
	eventually(t, "a slot freed", func() bool { return ts.srv.keyConns.Stats().Sessions == perKey-1 })
	c, err := ts.handshakeOnly(bot)
	if err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	c.Close()
}

// Issue 18 item 5: an authenticated connection without a session gets
// keepalives, and is closed when its peer vanishes.
func TestIdleAuthenticatedConnectionGetsKeepalives(t *testing.T) {
	bot := newTUser(t, "bot")
	ts := startTestServerWith(t, "", func(c *testConfig) {
		c.KeepaliveInterval = 50 * time.Millisecond
		c.KeepaliveMax = 3
	}, bot.line(""))
	proxy := startProxy(t, ts.addr)
	raw, err := net.Dial("tcp", proxy.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn, _, reqs, err := gossh.NewClientConn(raw, "proxy", &gossh.ClientConfig{
		User: "bot", Auth: []gossh.AuthMethod{gossh.PublicKeys(bot.signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: testWait,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keepalives := make(chan struct{}, 100)
	go func() {
		for r := range reqs {
			if r.Type == "keepalive@openssh.com" {
				select {
				case keepalives <- struct{}{}:
				default:
				}
			}
			_ = r.Reply(false, nil)
		}
	}()
	for i := range 5 {
		select {
		case <-keepalives:
		case <-time.After(testWait):
			t.Fatalf("only %d keepalives arrived on a connection without a session", i)
		}
	}
	if n := ts.srv.keyConns.Stats().Sessions; n != 1 {
		t.Fatalf("%d connections counted for the key, want 1", n)
	}
	proxy.mu.Lock()
	proxy.frozen = true
	proxy.mu.Unlock()
	eventually(t, "the dead idle connection reaped", func() bool { return ts.srv.keyConns.Stats().Sessions == 0 })
}
