package e2e

// The harness: a real parley server on a loopback listener, real SSH
// clients (golang.org/x/crypto/ssh) with a pseudo-terminal, and a terminal
// emulator (github.com/hinshun/vt10x) per client, so that tests assert on
// what a person would see on screen.
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
// The emulator is vt10x behind a small adapter (feedLocked): vt10x drops the
// bytes of a UTF-8 character split across two writes, so the adapter holds
// an incomplete tail back. vt10x gives every character one cell, so text
// after a wide (East Asian or emoji) character is drawn one cell to the
// left per wide character until the next absolute cursor move; and it
// does not know REP (CSI b), which the renderer uses for some TERM values
// but not for xterm-256color, the TERM these clients send. Replies to the
// renderer's queries (background colour, mode reports) go nowhere.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hinshun/vt10x"
	"golang.org/x/crypto/ssh"

	"parley/app"
	"parley/guard"
	"parley/keys"
	"parley/room"
	"parley/server"
)

// waitTimeout bounds every wait for something that should happen promptly.
// It only matters when a test fails: waits return as soon as the condition
// holds (typically in milliseconds). It is generous because -race on a
// small, busy machine is slow: with a load of 15 on 2 CPUs, logging in
// alone was seen to take 7 s.
const waitTimeout = 30 * time.Second

// pollInterval is how often eventually re-checks server state.
const pollInterval = 5 * time.Millisecond

// ---------------------------------------------------------------------------
// Users and keys

// user is a person with an ed25519 key pair generated for the test.
type user struct {
	name   string
	signer ssh.Signer
	pub    ssh.PublicKey
	fp     string // SHA256 fingerprint, the identity parley uses
}

func newUser(t testing.TB, name string) *user {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub := signer.PublicKey()
	return &user{name: name, signer: signer, pub: pub, fp: ssh.FingerprintSHA256(pub)}
}

// keyText is "ssh-ed25519 AAAA...".
func (u *user) keyText() string {
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(u.pub)), "\n")
}

// line is the user's authorized_keys line: options (may be ""), the key and
// the comment name@laptop (which names the key when options have no name=).
func (u *user) line(options string) string {
	l := u.keyText() + " " + u.name + "@laptop"
	if options != "" {
		l = options + " " + l
	}
	return l
}

// auth is the user's ordinary public-key authentication.
func (u *user) auth() []ssh.AuthMethod { return []ssh.AuthMethod{ssh.PublicKeys(u.signer)} }

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
	addr     string
	dir      string
	keysPath string
	logs     *lockedBuffer

	serveErr  chan error
	closeOnce sync.Once
	closeErr  error
}

// startServer starts the real server in-process on 127.0.0.1:0 with a fresh
// data dir. Cleanup closes it (with a deadline) and checks that Serve
// returned nil. The server's log is printed when the test fails (or always,
// with E2E_SERVER_LOG=1).
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
	srv, err := app.New(setup.cfg)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, addr: ln.Addr().String(), dir: dir, keysPath: keysPath, logs: logs, serveErr: make(chan error, 1)}
	go func() { ts.serveErr <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := ts.Close(); err != nil {
			t.Errorf("server Close: %v", err)
		}
		select {
		case err := <-ts.serveErr:
			if err != nil {
				t.Errorf("Serve returned %v, want nil after Close", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Serve did not return after Close")
		}
		if t.Failed() || os.Getenv("E2E_SERVER_LOG") != "" {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return ts
}

// Close closes the server once, giving it waitTimeout; later calls return
// the first result. A Close that hangs past its deadline is reported as an
// error instead of hanging the test.
func (ts *testServer) Close() error {
	ts.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- ts.srv.Close(ctx) }()
		select {
		case ts.closeErr = <-done:
		case <-time.After(waitTimeout + 5*time.Second):
			ts.closeErr = errors.New("server Close hung past its deadline")
		}
	})
	return ts.closeErr
}

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
	want := ts.srv.HostKeyFingerprint()
	return &ssh.ClientConfig{
		User: sshUser,
		Auth: auth,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if got := ssh.FingerprintSHA256(key); got != want {
				return fmt.Errorf("host key %s, want %s", got, want)
			}
			if hostKeyChecked != nil {
				hostKeyChecked.Store(true)
			}
			return nil
		},
		Timeout: waitTimeout,
	}
}

// dial connects and authenticates, with a deadline on the whole handshake.
func (ts *testServer) dial(cfg *ssh.ClientConfig) (*ssh.Client, error) {
	nc, err := net.DialTimeout("tcp", ts.addr, waitTimeout)
	if err != nil {
		return nil, err
	}
	return ts.handshake(nc, cfg)
}

// handshake authenticates on nc, with a deadline on the whole handshake;
// it closes nc when that fails.
func (ts *testServer) handshake(nc net.Conn, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	_ = nc.SetDeadline(time.Now().Add(waitTimeout))
	c, chans, reqs, err := ssh.NewClientConn(nc, ts.addr, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
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

// client is one interactive SSH session with a pty, shown on an emulator.
type client struct {
	name  string
	conn  *ssh.Client
	sess  *ssh.Session
	stdin io.WriteCloser

	mu         sync.Mutex
	term       vt10x.Terminal
	raw        []byte        // every byte received on stdout
	stderr     []byte        // every byte received on stderr (also shown on screen)
	partial    []byte        // an incomplete UTF-8 sequence held for the next chunk
	partialErr []byte        // the same, for stderr
	changed    chan struct{} // closed (and replaced) on every update
	eof        bool          // the output (stdout and stderr) ended

	readerDone chan struct{}
	waitDone   chan struct{} // closed when the session has ended
	waitErr    error         // set before waitDone is closed
	hostKeyOK  atomic.Bool
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
	if cs.termW == 0 {
		cs.termW, cs.termH = cs.w, cs.h
	}
	c := &client{
		name:       u.name,
		term:       vt10x.New(vt10x.WithSize(cs.termW, cs.termH)),
		changed:    make(chan struct{}),
		readerDone: make(chan struct{}),
		waitDone:   make(chan struct{}),
	}
	cfg := ts.clientConfig(cs.sshUser, cs.auth, &c.hostKeyOK)
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
	c.conn = conn
	if !c.hostKeyOK.Load() {
		conn.Close()
		return nil, errors.New("the host key callback was not called")
	}
	fail := func(err error) (*client, error) { conn.Close(); return nil, err }
	if c.sess, err = conn.NewSession(); err != nil {
		return fail(err)
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := c.sess.RequestPty(cs.term, cs.h, cs.w, modes); err != nil {
		return fail(err)
	}
	if err := c.shell(t, !cs.noReader); err != nil {
		return fail(err)
	}
	return c, nil
}

// read copies one output stream (stdout or stderr) into *keep and the
// emulator until it ends.
func (c *client) read(r io.Reader, keep *[]byte) {
	buf := make([]byte, 32<<10)
	partial := &c.partial
	if keep == &c.stderr {
		partial = &c.partialErr
	}
	for {
		n, err := r.Read(buf)
		if n > 0 {
			c.mu.Lock()
			*keep = append(*keep, buf[:n]...)
			c.feedLocked(partial, buf[:n])
			c.notifyLocked()
			c.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// feedLocked writes b to the emulator. vt10x drops the bytes of a UTF-8
// sequence split across two writes, so an incomplete sequence at the end of
// a chunk is held back (in *partial, one per stream) until the next one.
func (c *client) feedLocked(partial *[]byte, b []byte) {
	data := append(*partial, b...)
	keep := incompleteUTF8Tail(data)
	_, _ = c.term.Write(data[:len(data)-keep])
	*partial = append([]byte(nil), data[len(data)-keep:]...)
}

// incompleteUTF8Tail returns how many bytes at the end of b start a UTF-8
// sequence that is not complete yet.
func incompleteUTF8Tail(b []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return 0 // ASCII: nothing pending
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}

func (c *client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Type sends keystrokes; Enter is "\r".
func (c *client) Type(t testing.TB, s string) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, s); err != nil {
		t.Fatalf("%s: type %q: %v", c.name, s, err)
	}
}

// Say types a line and Enter.
func (c *client) Say(t testing.TB, line string) { t.Helper(); c.Type(t, line+"\r") }

// Paste sends s as a bracketed paste (delivered to the program as one
// tea.PasteMsg, whatever it contains).
func (c *client) Paste(t testing.TB, s string) {
	t.Helper()
	c.Type(t, "\x1b[200~"+s+"\x1b[201~")
}

// Screen returns the emulator's text, one line per row.
func (c *client) Screen() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.screenLocked()
}

func (c *client) screenLocked() string {
	return strings.ReplaceAll(c.term.String(), "\x00", " ")
}

// Row returns row y of the screen, trailing spaces trimmed.
func (c *client) Row(y int) string {
	rows := strings.Split(c.Screen(), "\n")
	if y < 0 || y >= len(rows) {
		return ""
	}
	return strings.TrimRight(rows[y], " ")
}

// Cell returns the glyph (character, colours, attributes) at x, y.
func (c *client) Cell(x, y int) vt10x.Glyph {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.term.Cell(x, y)
}

// Raw returns a copy of every byte received so far.
func (c *client) Raw() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.raw)
}

// Stderr returns a copy of what the server wrote to stderr so far.
func (c *client) Stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.stderr)
}

// RawLen is how many bytes were received so far.
func (c *client) RawLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.raw)
}

// WaitFor waits until the screen contains want (a string) or want (a
// func(screen string) bool) holds, re-checking on every chunk of output. It
// returns the matching screen; on timeout it fails the test and prints the
// last screen.
func (c *client) WaitFor(t testing.TB, want any, timeout time.Duration) string {
	t.Helper()
	var ok func(string) bool
	var desc string
	switch w := want.(type) {
	case string:
		ok, desc = func(s string) bool { return strings.Contains(s, w) }, fmt.Sprintf("%q", w)
	case func(string) bool:
		ok, desc = w, "condition"
	default:
		t.Fatalf("WaitFor: want is a %T", want)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		screen := c.screenLocked()
		ch, eof := c.changed, c.eof
		c.mu.Unlock()
		if ok(screen) {
			return screen
		}
		if eof {
			// The output ended: the screen can no longer change.
			t.Fatalf("%s: output ended before the screen showed %s; last screen:\n%s%s", c.name, desc, frame(screen), c.rawTail())
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s: after %v the screen does not show %s; last screen:\n%s%s", c.name, timeout, desc, frame(screen), c.rawTail())
		}
	}
}

// rawTail returns, when E2E_RAW_TAIL=N is set, the last N bytes received,
// quoted, to tell a server problem from an emulator problem.
func (c *client) rawTail() string {
	n, _ := strconv.Atoi(os.Getenv("E2E_RAW_TAIL"))
	if n <= 0 {
		return ""
	}
	raw := c.Raw()
	return fmt.Sprintf("last %d bytes received:\n%q\n", min(n, len(raw)), raw[max(len(raw)-n, 0):])
}

// Expect is WaitFor(t, text, waitTimeout).
func (c *client) Expect(t testing.TB, text string) string {
	t.Helper()
	return c.WaitFor(t, text, waitTimeout)
}

// Resize changes the emulator's size and tells the server.
func (c *client) Resize(t testing.TB, w, h int) {
	t.Helper()
	c.mu.Lock()
	c.term.Resize(w, h)
	c.mu.Unlock()
	c.WindowChange(t, w, h)
}

// WindowChange only claims a new window size; the emulator keeps its own.
func (c *client) WindowChange(t testing.TB, w, h int) {
	t.Helper()
	if err := c.sess.WindowChange(h, w); err != nil {
		t.Fatalf("%s: window change: %v", c.name, err)
	}
}

// WaitEnded waits until the session has ended and returns session.Wait's
// result.
func (c *client) WaitEnded(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-c.waitDone:
	case <-time.After(timeout):
		t.Fatalf("%s: session still running after %v; last screen:\n%s", c.name, timeout, frame(c.Screen()))
	}
	// Wait for the reader too, so that Raw and Screen hold all the output.
	select {
	case <-c.readerDone:
	case <-time.After(timeout):
		t.Fatalf("%s: output still open after the session ended", c.name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waitErr
}

// Ended reports whether the session has ended.
func (c *client) Ended() bool {
	select {
	case <-c.waitDone:
		return true
	default:
		return false
	}
}

// Close drops the connection (like closing the terminal window) and waits
// for the client's goroutines.
func (c *client) Close() {
	_ = c.sess.Close()
	_ = c.conn.Close()
	select {
	case <-c.readerDone:
	case <-time.After(waitTimeout):
	}
	select {
	case <-c.waitDone:
	case <-time.After(waitTimeout):
	}
}

// frame draws a screen with a border, for failure messages.
func frame(screen string) string {
	rows := strings.Split(strings.TrimSuffix(screen, "\n"), "\n")
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("|" + r + "|\n")
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Helpers

// eventually polls cond until it holds or timeout passes. It is for server
// state that produces no output to wait on.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("after %v still waiting for: %s", timeout, what)
		}
	}
}

// waitGoroutines waits until at most limit goroutines are running.
func waitGoroutines(t testing.TB, limit int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > limit {
		select {
		case <-tick.C:
		case <-deadline.C:
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutine leak: %d running, want at most %d; stacks:\n%s", runtime.NumGoroutine(), limit, buf[:n])
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

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

// TestHarnessSplitRunes checks the emulator adapter: a character whose
// UTF-8 bytes arrive in two chunks is still drawn (vt10x alone drops it).
func TestHarnessSplitRunes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		b    []byte
		want int
	}{
		{[]byte("abc"), 0},
		{[]byte("a\xe2"), 1},
		{[]byte("a\xe2\x94"), 2},
		{[]byte("a\xe2\x94\x82"), 0},
		{[]byte("\xf0\x9d\x90"), 3},
		{[]byte("\xf0\x9d\x90\x80"), 0},
		{[]byte("\xff"), 0},
	} {
		if got := incompleteUTF8Tail(tc.b); got != tc.want {
			t.Errorf("incompleteUTF8Tail(%q) = %d, want %d", tc.b, got, tc.want)
		}
	}
	c := &client{term: vt10x.New(vt10x.WithSize(10, 2)), changed: make(chan struct{})}
	line := []byte("a│b𝐀c")
	for i := range line { // one byte at a time: the worst split there is
		c.feedLocked(&c.partial, line[i:i+1])
	}
	if got := strings.TrimRight(c.Row(0), " "); got != "a│b𝐀c" {
		t.Errorf("screen row %q, want %q", got, "a│b𝐀c")
	}
}

// shell opens the session's input and outputs, starts its shell and
// watches it (see watch).
func (c *client) shell(t testing.TB, reading bool) error {
	var err error
	if c.stdin, err = c.sess.StdinPipe(); err != nil {
		return err
	}
	stdout, err := c.sess.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := c.sess.StderrPipe()
	if err != nil {
		return err
	}
	if err := c.sess.Shell(); err != nil {
		return err
	}
	c.watch(t, stdout, stderr, reading)
	return nil
}

// watch starts reading the session's stdout and stderr (unless reading is
// false: a client that never reads) and waiting for its end. Like a
// terminal, the screen shows both outputs; like ssh(1), the connection is
// closed when the session ends.
func (c *client) watch(t testing.TB, stdout, stderr io.Reader, reading bool) {
	if !reading {
		close(c.readerDone)
	} else {
		var readers sync.WaitGroup
		readers.Add(2)
		go func() { defer readers.Done(); c.read(stdout, &c.raw) }()
		go func() { defer readers.Done(); c.read(stderr, &c.stderr) }()
		go func() {
			readers.Wait()
			c.mu.Lock()
			c.eof = true
			c.notifyLocked()
			c.mu.Unlock()
			close(c.readerDone)
		}()
	}
	go func() {
		err := c.sess.Wait()
		c.mu.Lock()
		c.waitErr = err
		close(c.waitDone)
		c.notifyLocked()
		c.mu.Unlock()
		c.conn.Close()
	}()
	t.Cleanup(c.Close)
}
