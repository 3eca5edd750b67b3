package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"parley/guard"
	"parley/internal/testkit"
	"parley/room"
)

// The harness for the exec, admin and invite tests: a real Server on a
// loopback listener with a temporary data dir, and x/crypto/ssh clients.
// Nothing sleeps to synchronise: output is read as it comes, and state
// that announces nothing is polled with a deadline (eventually). The
// machinery (keys, dialing, exec runs, serving, waits) is
// parley/internal/testkit, the harness every test package shares; this
// file builds the Server itself (these are internal tests: testkit's
// in-process builder imports this package) and keeps the names the tests
// here are written in.

const testWait = 10 * time.Second

// tuser is someone with an ed25519 key pair made for the test: a
// testkit.User with the field names these tests use.
type tuser struct {
	*testkit.User
	name   string
	signer gossh.Signer
	fp     string
}

func newTUser(t *testing.T, name string) *tuser {
	t.Helper()
	u := testkit.NewUser(t, name)
	return &tuser{User: u, name: u.Name, signer: u.Signer, fp: u.FP}
}

// keyText is "ssh-ed25519 AAAA...".
func (u *tuser) keyText() string { return u.KeyText() }

// line is the user's authorized_keys line with options (may be "").
func (u *tuser) line(options string) string { return u.Line(options) }

// syncBuffer collects logs written from many goroutines.
type syncBuffer = testkit.LockedBuffer

type testServer struct {
	srv  *composed
	addr string
	dir  string
	logs *syncBuffer
	stop func() // closes the server (also done when the test ends)
}

// startTestServer starts a server on dir (a fresh temporary one if ""),
// writing keyLines to its authorized_keys first when given. Every client
// comes from 127.0.0.1, so the failed-login penalty is set out of reach:
// the tests of refusals would otherwise slow each other down. Tests of the
// penalty use startTestServerWith.
func startTestServer(t *testing.T, dir string, keyLines ...string) *testServer {
	t.Helper()
	return startTestServerWith(t, dir, func(c *testConfig) { c.Defences.Gate.FailuresBeforePenalty = 1000 }, keyLines...)
}

// startTestServerWith is startTestServer with the configuration changed by
// mod (nil: the defaults, penalty included) before the server starts.
func startTestServerWith(t *testing.T, dir string, mod func(*testConfig), keyLines ...string) *testServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if len(keyLines) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(strings.Join(keyLines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuffer{}
	cfg := testConfig{Config: Config{
		DataDir:  dir,
		KeysPoll: 20 * time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Defences: Defences{
			// Quick enough for tests, small enough that a burst of lines
			// from `say` meets the limit.
			Messages: guard.LimiterConfig{Rate: 50, Burst: 3},
		},
	}}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := compose(cfg)
	if err != nil {
		t.Fatal(err)
	}
	running := testkit.Serve(t, srv, testWait)
	ts := &testServer{srv: srv, addr: running.Addr, dir: dir, logs: logs}
	ts.stop = func() {
		if err := running.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	return ts
}

func (ts *testServer) hub() *room.Hub { return ts.srv.Hub() }

// dial connects u with the SSH user name user (u.name when "") and
// public-key authentication only.
func (ts *testServer) dial(u *tuser, user string) (*gossh.Client, error) {
	return ts.dialWith(u, user, gossh.PublicKeys(u.signer))
}

func (ts *testServer) dialWith(u *tuser, user string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	if user == "" {
		user = u.name
	}
	cfg := testkit.ClientConfig(user, auth, "", nil)
	cfg.Timeout = testWait
	return testkit.Dial(ts.addr, cfg, testWait)
}

// result is what one `ssh host COMMAND` produced.
type result struct {
	stdout, stderr string
	code           int
}

// run runs cmd as u (SSH user user, u.name when "") with stdin, and waits
// for it to finish.
func (ts *testServer) run(t *testing.T, u *tuser, user, cmd, stdin string) result {
	t.Helper()
	c, err := ts.dial(u, user)
	if err != nil {
		t.Fatalf("%s: dial: %v", u.name, err)
	}
	defer c.Close()
	return runOn(t, c, cmd, stdin)
}

func runOn(t *testing.T, c *gossh.Client, cmd, stdin string) result {
	t.Helper()
	r, err := testkit.Run(c, cmd, stdin, testWait)
	if err != nil {
		t.Fatal(err)
	}
	return result{stdout: r.Stdout, stderr: r.Stderr, code: r.Code}
}

// stream is a command that keeps running: its stdout is read line by line.
type stream struct {
	client *gossh.Client
	sess   *gossh.Session
	lines  chan string
	stderr *syncBuffer
	done   chan error
}

// start runs cmd as u without waiting for it; stdin stays open until the
// returned stream's stdin is closed (or the test ends).
func (ts *testServer) start(t *testing.T, u *tuser, cmd string) (*stream, io.WriteCloser) {
	t.Helper()
	c, err := ts.dial(u, "")
	if err != nil {
		t.Fatalf("%s: dial: %v", u.name, err)
	}
	t.Cleanup(func() { c.Close() })
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{client: c, sess: sess, lines: make(chan string, 1000), stderr: &syncBuffer{}, done: make(chan error, 1)}
	sess.Stderr = s.stderr
	if err := sess.Start(cmd); err != nil {
		t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				s.lines <- strings.TrimSuffix(line, "\n")
			}
			if err != nil {
				close(s.lines)
				s.done <- sess.Wait()
				return
			}
		}
	}()
	return s, stdin
}

// next returns the next line of output.
func (s *stream) next(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			t.Fatalf("output ended; stderr: %s", s.stderr.String())
		}
		return line
	case <-time.After(testWait):
		t.Fatalf("no output line within %v; stderr: %s", testWait, s.stderr.String())
	}
	return ""
}

// exit waits for the command to end and returns its exit status.
func (s *stream) exit(t *testing.T) int {
	t.Helper()
	for range s.lines { // drain
	}
	select {
	case err := <-s.done:
		var exit *gossh.ExitError
		if err == nil {
			return 0
		}
		if errors.As(err, &exit) {
			return exit.ExitStatus()
		}
		t.Fatalf("command ended with %v", err)
	case <-time.After(testWait):
		t.Fatal("the command did not end")
	}
	return -1
}

// eventually polls cond until it holds or testWait passes. It is for state
// that no output announces (a file reloaded, a member gone).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, testWait, what, cond)
}

// watcher connects a TUI-less room session (a person, as the TUI would).
func (ts *testServer) watcher(t *testing.T, u *tuser) *room.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	rs, err := ts.hub().Connect(ctx, room.Identity{ID: u.fp, Name: u.name, Admin: ts.srv.isAdmin(u.fp)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close(room.ReasonQuit) })
	return rs
}

// untilEvent reads rs's events until match, failing after testWait.
func untilEvent(t *testing.T, rs *room.Session, match func(room.Message) bool) room.Message {
	t.Helper()
	deadline := time.After(testWait)
	for {
		select {
		case m, ok := <-rs.Events():
			if !ok {
				t.Fatalf("session ended (%s) before the expected event", rs.Reason())
			}
			if match(m) {
				return m
			}
		case <-deadline:
			t.Fatal("the expected event did not arrive")
		}
	}
}

func chatText(text string) func(room.Message) bool {
	return func(m room.Message) bool { return m.Kind == room.KindChat && m.Text == text }
}
