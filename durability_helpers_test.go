package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hinshun/vt10x"
	"golang.org/x/crypto/ssh"

	"parley/room"
	"parley/store"
)

// durClient is one SSH session with a pty whose output is fed, chunk by
// chunk, to a terminal emulator: what a person would see. Bubble Tea redraws
// only the cells that change, so the raw bytes do not reliably hold a line
// of text; the emulator's screen does.
type durClient struct {
	name  string
	conn  *ssh.Client
	sess  *ssh.Session
	stdin io.WriteCloser

	mu       sync.Mutex
	term     vt10x.Terminal
	partial  []byte        // an incomplete UTF-8 sequence held for the next chunk
	changed  chan struct{} // closed and replaced after every chunk and at EOF
	eof      bool
	onScreen func(rows []string) // called under mu after every chunk

	done chan struct{} // closed when the output has ended
}

// durDial logs in as user with signer, asks for a cols x rows pty and a
// shell, and starts feeding the output to an emulator. onScreen, when set,
// sees the screen after every chunk of output (on the reader goroutine).
// It returns an error rather than failing the test, so it may run on any
// goroutine.
func durDial(addr, user string, signer ssh.Signer, cols, rows int, onScreen func([]string)) (*durClient, error) {
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: dial: %w", user, err)
	}
	fail := func(what string, err error) (*durClient, error) {
		conn.Close()
		return nil, fmt.Errorf("%s: %s: %w", user, what, err)
	}
	sess, err := conn.NewSession()
	if err != nil {
		return fail("session", err)
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("xterm-256color", rows, cols, modes); err != nil {
		return fail("pty", err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return fail("stdin", err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return fail("stdout", err)
	}
	if err := sess.Shell(); err != nil {
		return fail("shell", err)
	}
	c := &durClient{
		name: user, conn: conn, sess: sess, stdin: stdin,
		term:     vt10x.New(vt10x.WithSize(cols, rows)),
		changed:  make(chan struct{}),
		onScreen: onScreen,
		done:     make(chan struct{}),
	}
	go c.read(stdout)
	return c, nil
}

func (c *durClient) read(r io.Reader) {
	defer close(c.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		c.mu.Lock()
		if n > 0 {
			data := append(c.partial, buf[:n]...)
			keep := durIncompleteUTF8(data)
			_, _ = c.term.Write(data[:len(data)-keep])
			c.partial = append([]byte(nil), data[len(data)-keep:]...)
			if c.onScreen != nil {
				c.onScreen(c.rowsLocked())
			}
		}
		if err != nil {
			c.eof = true
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// durIncompleteUTF8 returns how many bytes at the end of b start a UTF-8
// sequence that is not complete yet (vt10x drops a split sequence).
func durIncompleteUTF8(b []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return 0
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

func (c *durClient) rowsLocked() []string {
	return strings.Split(strings.ReplaceAll(c.term.String(), "\x00", " "), "\n")
}

// Screen returns the screen, one line per row.
func (c *durClient) Screen() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.rowsLocked(), "\n")
}

// Type sends keystrokes; Enter is "\r".
func (c *durClient) Type(s string) error {
	_, err := io.WriteString(c.stdin, s)
	return err
}

// WaitFor waits until ok holds for the screen (checked after every chunk
// of output), the output ends, or timeout passes. It reports whether ok
// held, and the last screen.
func (c *durClient) WaitFor(ok func(rows []string) bool, timeout time.Duration) (bool, string) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		rows := c.rowsLocked()
		eof, ch := c.eof, c.changed
		c.mu.Unlock()
		if ok(rows) {
			return true, strings.Join(rows, "\n")
		}
		if eof {
			return false, strings.Join(rows, "\n") + "\n(output ended)"
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false, strings.Join(rows, "\n")
		}
	}
}

// WaitText waits until some row of the screen contains text.
func (c *durClient) WaitText(t *testing.T, text string, timeout time.Duration) {
	t.Helper()
	if ok, screen := c.WaitFor(func(rows []string) bool { return durRow(rows, text) >= 0 }, timeout); !ok {
		t.Fatalf("%s: %q did not appear within %v; screen:\n%s", c.name, text, timeout, screen)
	}
}

// WaitEnded waits for the session's output to end.
func (c *durClient) WaitEnded(timeout time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Close ends the connection.
func (c *durClient) Close() { c.conn.Close() }

// durRow returns the first row containing text, or -1.
func durRow(rows []string, text string) int {
	for i, r := range rows {
		if strings.Contains(r, text) {
			return i
		}
	}
	return -1
}

// durChatRow returns the first row showing text as a chat message of name
// ("name text", as the screen lays a message out after the time), or -1.
// The input box shows what is typed as "> text", which never matches.
func durChatRow(rows []string, name, text string) int {
	re := regexp.MustCompile(`(^|[\s│])` + regexp.QuoteMeta(name) + ` ` + regexp.QuoteMeta(text) + `($|[\s│])`)
	for i, r := range rows {
		if re.MatchString(r) {
			return i
		}
	}
	return -1
}

// durKeys writes authorized_keys with one key per name (name="..." so
// the name is reserved for the key) and returns the signers.
func durKeys(t *testing.T, dataDir string, names ...string) map[string]ssh.Signer {
	t.Helper()
	signers := make(map[string]ssh.Signer, len(names))
	var b strings.Builder
	for _, n := range names {
		s, line := newKey(t)
		signers[n] = s
		fmt.Fprintf(&b, "name=%q %s\n", n, line)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "authorized_keys"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return signers
}

// durWaitExit waits for the child to exit and returns its exit error.
func durWaitExit(t *testing.T, c *child, timeout time.Duration) error {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		return err
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-exited
		t.Fatalf("the server did not exit within %v; stderr:\n%s", timeout, tail(c.stderr.String(), 3000))
		return nil
	}
}

// durHistory opens the database of a stopped server the way the server
// does (store.Open); when check is set, verifies the whole file
// (store.Check: PRAGMA integrity_check and the search index); and returns
// the messages of roomName numbered above since, oldest first, after
// checking that they are numbered since+1, since+2, ... up to LastSeq.
func durHistory(t *testing.T, dataDir, roomName string, since uint64, check bool) []room.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(dataDir, "parley.db"))
	if err != nil {
		t.Fatalf("open the database after the server stopped: %v", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Errorf("close the database: %v", err)
		}
	}()
	if check {
		if err := st.Check(ctx); err != nil {
			t.Fatalf("database check after the server stopped: %v", err)
		}
	}
	last, err := st.LastSeq(ctx, roomName)
	if err != nil {
		t.Fatalf("last sequence: %v", err)
	}
	if last < since {
		t.Fatalf("LastSeq went back from %d to %d", since, last)
	}
	// Twice what should be there, to see anything unexpected.
	msgs, err := st.Before(ctx, roomName, 0, int(2*(last-since))+10)
	if err != nil {
		t.Fatalf("read history: %v", err)
	}
	var out []room.Message
	for _, m := range msgs {
		if m.Seq > since {
			out = append(out, m)
		}
	}
	want := since + 1
	for _, m := range out {
		if m.Seq != want {
			t.Errorf("sequence numbers are not contiguous: after %d comes %d", want-1, m.Seq)
			break
		}
		want++
	}
	if want-1 != last {
		t.Errorf("LastSeq is %d but the newest message stored has seq %d", last, want-1)
	}
	return out
}

// durLockDB takes the database's write lock from another connection (as
// a backup tool holding a transaction would; to the server it looks like a
// stalled disk) so that the server cannot commit until release. The
// server waits for the lock (its busy timeout is 5s) with the batch it was
// about to store.
func durLockDB(path string) (release func(), err error) {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path),
		RawQuery: url.Values{"_busy_timeout": {"10000"}}.Encode()}
	db, err := sql.Open("sqlite", u.String()) // the driver the store registers
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		conn.Close()
		db.Close()
		return nil, fmt.Errorf("take the write lock: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		db.Close()
	}, nil
}
