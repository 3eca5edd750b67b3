package e2e

// The harness: a real parley server on a loopback listener, real SSH
// clients (golang.org/x/crypto/ssh) with a pseudo-terminal, and a terminal
// emulator per client, so that tests assert on what a person would see.
// The machinery is parley/internal/testkit (the one harness every test
// package uses: sessions, emulator, waits, the real binary) and
// testkit/inprocess (the one place that builds an in-process server); this
// file gives it the short names the e2e tests are written in.
//
// Synchronisation rules: nothing here sleeps to wait for something. A
// client's reader goroutine feeds the emulator and wakes every waiter on
// each chunk of output (see client.WaitFor); server state that produces no
// output (the authorized_keys reload, the hub's member list) is polled with
// a deadline by eventually.
//
// In short:
//
//	alice := newUser(t, "alice")                 // an ed25519 key pair
//	ts := startServer(t, withKeys(alice.line(`admin,name="alice"`)))
//	a := ts.connect(t, alice, size(80, 24))      // pty + shell + emulator
//	a.Say(t, "hello")                            // type a line and Enter
//	a.WaitFor(t, rowMatching(clock+`alice hello`), waitTimeout)
//	a.Screen(), a.Row(0), a.Cell(x, y), a.Raw()  // what the person sees/got
//
// Debugging: E2E_SERVER_LOG=1 prints the server's log of every test (it is
// printed for failed tests anyway); E2E_RAW_TAIL=N adds the last N bytes a
// client received to WaitFor's failure message; E2E_STORE=memory runs the
// servers without SQLite (the default store is the server's default).
//
// Options: withUsers, withKeys, withMOTD, withoutFloodLimits, withConfig
// for the server; size, emulatorSize, withAuth, withAuthAttempts,
// withSSHUser, noReader for a client. Conditions for WaitFor: a string,
// rowMatching, header, contains, joined, left, allOf, anyOf, or any
// func(screen string) bool. ts.appendKey and ts.removeKey edit
// authorized_keys and wait for the reload.
//
// The emulator's limits (vt10x: wide characters, REP) are described in
// testkit's package comment.

import (
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/app"
	"parley/guard"
	"parley/internal/testkit"
	"parley/internal/testkit/inprocess"
	"parley/keys"
	"parley/room"
	"parley/server"
)

// waitTimeout bounds every wait for something that should happen promptly
// (see testkit.WaitTimeout).
const waitTimeout = testkit.WaitTimeout

// ---------------------------------------------------------------------------
// Users and keys

// user is a person with an ed25519 key pair generated for the test: a
// testkit.User, with the field names these tests use.
type user struct {
	*testkit.User
	name   string
	signer ssh.Signer
	pub    ssh.PublicKey
	fp     string // SHA256 fingerprint, the identity parley uses
}

func newUser(t testing.TB, name string) *user {
	t.Helper()
	u := testkit.NewUser(t, name)
	return &user{User: u, name: u.Name, signer: u.Signer, pub: u.Pub, fp: u.FP}
}

// keyText is "ssh-ed25519 AAAA...".
func (u *user) keyText() string { return u.KeyText() }

// line is the user's authorized_keys line: options (may be ""), the key and
// the comment name@laptop (which names the key when options have no name=).
func (u *user) line(options string) string { return u.Line(options) }

// auth is the user's ordinary public-key authentication.
func (u *user) auth() []ssh.AuthMethod { return u.Auth() }

// ---------------------------------------------------------------------------
// Server

type serverSetup struct {
	cfg      app.Config
	keyLines []string
	motd     *string
}

// serverOpt adjusts a server before it starts.
type serverOpt func(*serverSetup)

// withKeys writes these authorized_keys lines before the server starts.
func withKeys(lines ...string) serverOpt {
	return func(s *serverSetup) { s.keyLines = append(s.keyLines, lines...) }
}

// withUsers authorizes each user with u.line("") (named by the comment).
func withUsers(us ...*user) serverOpt {
	return func(s *serverSetup) {
		for _, u := range us {
			s.keyLines = append(s.keyLines, u.line(""))
		}
	}
}

// withMOTD writes DataDir/motd before the server starts.
func withMOTD(text string) serverOpt { return func(s *serverSetup) { s.motd = &text } }

// withoutFloodLimits lifts the per-identity message and notice limits, for
// tests that chat faster than a person may.
func withoutFloodLimits() serverOpt {
	return func(s *serverSetup) {
		unlimited := guard.LimiterConfig{Rate: math.Inf(1), Burst: 1 << 20}
		s.cfg.Defences.Messages, s.cfg.Defences.Notices = unlimited, unlimited
	}
}

// withConfig edits the server.Config (DataDir is already set).
func withConfig(f func(*app.Config)) serverOpt { return func(s *serverSetup) { f(&s.cfg) } }

// testServer is a running parley.
type testServer struct {
	srv      *app.App
	running  *testkit.Running
	addr     string
	dir      string
	keysPath string
	logs     *lockedBuffer
}

// startServer starts the real server in-process on 127.0.0.1:0 with a fresh
// data dir (testkit/inprocess). Cleanup closes it (with a deadline) and
// checks that Serve returned nil. The server's log is printed when the test
// fails (or always, with E2E_SERVER_LOG=1).
func startServer(t *testing.T, opts ...serverOpt) *testServer {
	t.Helper()
	dir := t.TempDir()
	logs := &lockedBuffer{}
	setup := serverSetup{cfg: app.Config{Config: server.Config{
		DataDir:  dir,
		KeysPoll: 50 * time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, SeedKeys: false}}
	if st := os.Getenv("E2E_STORE"); st != "" {
		setup.cfg.Store = st // "memory" or "sqlite"; tests may still override it
	}
	for _, o := range opts {
		o(&setup)
	}
	keysPath := filepath.Join(dir, "authorized_keys")
	if len(setup.keyLines) > 0 {
		writeFile(t, keysPath, strings.Join(setup.keyLines, "\n")+"\n")
	}
	if setup.motd != nil {
		writeFile(t, filepath.Join(dir, "motd"), *setup.motd)
	}
	// Registered before the server's own cleanup, so it runs after Close.
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("E2E_SERVER_LOG") != "" {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	srv, running := inprocess.Start(t, setup.cfg)
	return &testServer{srv: srv, running: running, addr: running.Addr, dir: dir, keysPath: keysPath, logs: logs}
}

// Close closes the server once, giving it waitTimeout; later calls return
// the first result. A Close that hangs past its deadline is reported as an
// error instead of hanging the test.
func (ts *testServer) Close() error { return ts.running.Close() }

// hub is the server's room hub.
func (ts *testServer) hub() *room.Hub { return ts.srv.Hub() }

// memberIDs returns the identities present in the lobby.
func (ts *testServer) memberIDs() map[string]room.MemberInfo {
	out := map[string]room.MemberInfo{}
	for _, m := range ts.hub().Members("lobby") {
		out[m.ID] = m
	}
	return out
}

// waitKeys waits until the loaded authorized_keys snapshot satisfies ok.
func (ts *testServer) waitKeys(t testing.TB, what string, ok func(*keys.Snapshot) bool) {
	t.Helper()
	eventually(t, waitTimeout, "authorized_keys reload: "+what, func() bool { return ok(ts.srv.Keys().Current()) })
}

// appendKey appends line to authorized_keys and waits until u's key is
// loaded.
func (ts *testServer) appendKey(t testing.TB, u *user, line string) {
	t.Helper()
	f, err := os.OpenFile(ts.keysPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ts.waitKeys(t, u.name+" added", func(s *keys.Snapshot) bool { _, ok := s.Lookup(u.pub); return ok })
}

// removeKey rewrites authorized_keys without u's line, the way editors do
// (write a new file, rename it over the old one), and waits until u's key
// is no longer loaded.
func (ts *testServer) removeKey(t testing.TB, u *user) {
	t.Helper()
	data, err := os.ReadFile(ts.keysPath)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.Contains(l, u.keyText()) {
			kept = append(kept, l)
		}
	}
	tmp := ts.keysPath + ".tmp"
	writeFile(t, tmp, strings.Join(kept, "\n")+"\n")
	if err := os.Rename(tmp, ts.keysPath); err != nil {
		t.Fatal(err)
	}
	ts.waitKeys(t, u.name+" removed", func(s *keys.Snapshot) bool { _, ok := s.Lookup(u.pub); return !ok })
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientConfig is an ssh.ClientConfig for auth that checks the server's
// host key against srv.HostKeyFingerprint. hostKeyChecked, when not nil, is
// set once the check passed.
func (ts *testServer) clientConfig(sshUser string, auth []ssh.AuthMethod, hostKeyChecked *atomic.Bool) *ssh.ClientConfig {
	return testkit.ClientConfig(sshUser, auth, ts.srv.HostKeyFingerprint(), hostKeyChecked)
}

// dial connects and authenticates, with a deadline on the whole handshake.
func (ts *testServer) dial(cfg *ssh.ClientConfig) (*ssh.Client, error) {
	return testkit.Dial(ts.addr, cfg, waitTimeout)
}

// handshake authenticates on nc, with a deadline on the whole handshake;
// it closes nc when that fails.
func (ts *testServer) handshake(nc net.Conn, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	return testkit.Handshake(nc, ts.addr, cfg, waitTimeout)
}

// ---------------------------------------------------------------------------
// Clients

type clientSetup struct {
	w, h         int // the pty size the client claims
	termW, termH int // the emulator's size; 0 means w, h
	term         string
	auth         []ssh.AuthMethod
	attempts     []ssh.AuthMethod
	sshUser      string
	noReader     bool
}

// clientOpt adjusts a client before it connects.
type clientOpt func(*clientSetup)

// size sets the pty size (default 80x24); the emulator gets the same size.
func size(w, h int) clientOpt { return func(c *clientSetup) { c.w, c.h = w, h } }

// emulatorSize gives the emulator a size other than the claimed pty size
// (for clients that lie about their window).
func emulatorSize(w, h int) clientOpt { return func(c *clientSetup) { c.termW, c.termH = w, h } }

// withAuth replaces the user's key with these auth methods.
func withAuth(m ...ssh.AuthMethod) clientOpt { return func(c *clientSetup) { c.auth = m } }

// withAuthAttempts makes exactly these authentication attempts, in order,
// one method each (through ssh.ClientConfig.AuthCallback), so that several
// public-key attempts can follow each other on one connection.
func withAuthAttempts(m ...ssh.AuthMethod) clientOpt {
	return func(c *clientSetup) { c.attempts = m; c.auth = []ssh.AuthMethod{} }
}

// withSSHUser sets the SSH user name the client sends (default: the
// user's name).
func withSSHUser(name string) clientOpt { return func(c *clientSetup) { c.sshUser = name } }

// noReader never reads the session's output (stdout nor stderr): once the
// SSH channel's window is full (2 MiB with x/crypto/ssh) the server's writes
// to this session block. The connection itself stays healthy (keepalives
// are answered); Screen stays empty.
func noReader() clientOpt { return func(c *clientSetup) { c.noReader = true } }

// client is one interactive SSH session with a pty, shown on an emulator:
// a testkit.Session (Type, Say, Paste, Screen, Row, Cell, Raw, Stderr,
// WaitFor, Expect, Resize, WindowChange, WaitEnded, Ended, Close), with
// the fields these tests use.
type client struct {
	*testkit.Session
	name string
	conn *ssh.Client
	sess *ssh.Session
}

func newClient(s *testkit.Session) *client {
	return &client{Session: s, name: s.Name(), conn: s.Conn(), sess: s.SSH()}
}

// connect logs u in with an 80x24 xterm-256color pty and a shell, and
// fails the test if that does not work. Cleanup closes the client.
func (ts *testServer) connect(t testing.TB, u *user, opts ...clientOpt) *client {
	t.Helper()
	c, err := ts.tryConnect(t, u, opts...)
	if err != nil {
		t.Fatalf("%s: connect: %v", u.name, err)
	}
	return c
}

// tryConnect is connect that returns the error instead.
func (ts *testServer) tryConnect(t testing.TB, u *user, opts ...clientOpt) (*client, error) {
	t.Helper()
	cs := clientSetup{w: 80, h: 24, term: "xterm-256color", sshUser: u.name}
	for _, o := range opts {
		o(&cs)
	}
	if cs.auth == nil {
		cs.auth = u.auth()
	}
	var hostKeyOK atomic.Bool
	cfg := ts.clientConfig(cs.sshUser, cs.auth, &hostKeyOK)
	if cs.attempts != nil {
		var mu sync.Mutex
		next := 0
		cfg.AuthCallback = func(*ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			mu.Lock()
			defer mu.Unlock()
			if next == len(cs.attempts) {
				return nil, nil
			}
			next++
			return cs.attempts[next-1], nil
		}
	}
	conn, err := ts.dial(cfg)
	if err != nil {
		return nil, err
	}
	if !hostKeyOK.Load() {
		conn.Close()
		return nil, testkit.ErrNoHostKeyCheck
	}
	s, err := testkit.Open(t, conn, testkit.TermOptions{
		Name: u.name, Term: cs.term, W: cs.w, H: cs.h, EmuW: cs.termW, EmuH: cs.termH, NoReader: cs.noReader,
	})
	if err != nil {
		return nil, err
	}
	return newClient(s), nil
}

// frame draws a screen with a border, for failure messages.
func frame(screen string) string { return testkit.Frame(screen) }

// ---------------------------------------------------------------------------
// Helpers

// eventually polls cond until it holds or timeout passes. It is for server
// state that produces no output to wait on.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, what, cond)
}

// waitGoroutines waits until at most limit goroutines are running.
func waitGoroutines(t testing.TB, limit int, timeout time.Duration) {
	t.Helper()
	testkit.WaitGoroutines(t, limit, timeout)
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer = testkit.LockedBuffer

// ---------------------------------------------------------------------------
// Screen conditions, for WaitFor

// rowMatching holds when some row of the screen matches the regular
// expression pattern.
func rowMatching(pattern string) func(string) bool {
	re := regexp.MustCompile(pattern)
	return func(screen string) bool {
		for _, row := range strings.Split(screen, "\n") {
			if re.MatchString(row) {
				return true
			}
		}
		return false
	}
}

// allOf holds when every condition holds.
func allOf(conds ...func(string) bool) func(string) bool {
	return func(screen string) bool {
		for _, c := range conds {
			if !c(screen) {
				return false
			}
		}
		return true
	}
}

// anyOf holds when some condition holds.
func anyOf(conds ...func(string) bool) func(string) bool {
	return func(screen string) bool {
		for _, c := range conds {
			if c(screen) {
				return true
			}
		}
		return false
	}
}

// contains is strings.Contains as a condition.
func contains(s string) func(string) bool {
	return func(screen string) bool { return strings.Contains(screen, s) }
}

// header holds when the first row (the header) matches pattern.
func header(pattern string) func(string) bool {
	re := regexp.MustCompile(pattern)
	return func(screen string) bool {
		first, _, _ := strings.Cut(screen, "\n")
		return re.MatchString(strings.TrimRight(first, " "))
	}
}

// The screen coalesces joins (and leaves) close in time into one line:
// "→ alice joined #lobby", "→ alice and bob joined #lobby",
// "→ alice, bob and carol joined #lobby".
var (
	joinLine  = regexp.MustCompile(`\d\d:\d\d → (.+?) joined\b`)
	leaveLine = regexp.MustCompile(`\d\d:\d\d ← (.+?) left`)
)

// mentionedIn counts name in the name lists that re matches on screen.
func mentionedIn(re *regexp.Regexp, screen, name string) int {
	n := 0
	for _, m := range re.FindAllStringSubmatch(screen, -1) {
		for _, who := range strings.Split(strings.ReplaceAll(m[1], " and ", ", "), ", ") {
			if who == name {
				n++
			}
		}
	}
	return n
}

// joined holds when the screen says name joined the lobby.
func joined(name string) func(string) bool {
	return func(s string) bool { return mentionedIn(joinLine, s, name) > 0 }
}

// left holds when the screen says name left.
func left(name string) func(string) bool {
	return func(s string) bool { return mentionedIn(leaveLine, s, name) > 0 }
}

// rowIndex returns the first row containing s, or -1.
func rowIndex(screen, s string) int {
	for i, row := range strings.Split(screen, "\n") {
		if strings.Contains(row, s) {
			return i
		}
	}
	return -1
}
