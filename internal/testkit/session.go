package testkit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hinshun/vt10x"
	"golang.org/x/crypto/ssh"
)

// TermOptions shapes the terminal a Session opens.
type TermOptions struct {
	Name       string                   // who this is, for failure messages
	Term       string                   // TERM; "" means xterm-256color
	W, H       int                      // the pty size claimed; 0 means 80x24
	EmuW, EmuH int                      // the emulator's size; 0 means W, H (a client that lies about its window)
	NoReader   bool                     // never read the output: the server's writes block once the window is full
	Prep       func(*ssh.Session) error // runs before the pty request (env, ...)
	AfterPty   func(*ssh.Session) error // runs between the pty request and the shell
	OnScreen   func(rows []string)      // sees the screen after every chunk, on a reader goroutine, under the session's lock
}

// Session is one interactive SSH session with a pty whose output (stdout
// and stderr, as on a real terminal) is fed, chunk by chunk, to a terminal
// emulator: what a person would see. Bubble Tea redraws only the cells
// that change, so the raw bytes do not reliably hold a line of text; the
// emulator's screen does.
//
// Two reader goroutines (stdout, stderr) own the feeding and a third waits
// for the session's end; everything they write (emulator, raw bytes, end
// state) is guarded by mu, so every method is safe from any goroutine.
// Methods taking a testing.TB fail the test and belong on its goroutine.
type Session struct {
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
	onScreen   func([]string)

	readerDone chan struct{}
	waitDone   chan struct{} // closed when the session has ended
	waitErr    error         // set before waitDone is closed
}

// Open starts a terminal session on conn: a new SSH session, o.Prep, a
// pty, o.AfterPty, a shell, and the goroutines that feed the emulator. The
// Session owns conn from then on (it closes it when the session ends or
// fails to start). When t is not nil, Cleanup closes the Session; with t
// nil (a session opened on another goroutine) the caller closes it.
func Open(t testing.TB, conn *ssh.Client, o TermOptions) (*Session, error) {
	sess, err := conn.NewSession()
	if err != nil {
		conn.Close()
		return nil, err
	}
	return OpenOn(t, conn, sess, o)
}

// OpenOn is Open on a session already opened on conn.
func OpenOn(t testing.TB, conn *ssh.Client, sess *ssh.Session, o TermOptions) (*Session, error) {
	if o.Term == "" {
		o.Term = "xterm-256color"
	}
	if o.W == 0 {
		o.W, o.H = 80, 24
	}
	if o.EmuW == 0 {
		o.EmuW, o.EmuH = o.W, o.H
	}
	c := NewScreen(o.Name, o.EmuW, o.EmuH)
	c.conn, c.sess, c.onScreen = conn, sess, o.OnScreen
	fail := func(err error) (*Session, error) { conn.Close(); return nil, err }
	if o.Prep != nil {
		if err := o.Prep(sess); err != nil {
			return fail(err)
		}
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty(o.Term, o.H, o.W, modes); err != nil {
		return fail(err)
	}
	if o.AfterPty != nil {
		if err := o.AfterPty(sess); err != nil {
			return fail(err)
		}
	}
	if err := c.shell(!o.NoReader); err != nil {
		return fail(err)
	}
	if t != nil {
		t.Cleanup(c.Close)
	}
	return c, nil
}

// NewScreen is a Session with only an emulator of w x h and no connection:
// Feed draws on it. It is for testing the emulator adapter itself.
func NewScreen(name string, w, h int) *Session {
	return &Session{
		name:       name,
		term:       vt10x.New(vt10x.WithSize(w, h)),
		changed:    make(chan struct{}),
		readerDone: make(chan struct{}),
		waitDone:   make(chan struct{}),
	}
}

// Name is who the session is, as given in TermOptions.
func (c *Session) Name() string { return c.name }

// Conn is the SSH connection the session runs on.
func (c *Session) Conn() *ssh.Client { return c.conn }

// SSH is the underlying SSH session.
func (c *Session) SSH() *ssh.Session { return c.sess }

// shell opens the session's input and outputs, starts its shell and
// watches it (see watch).
func (c *Session) shell(reading bool) error {
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
	c.watch(stdout, stderr, reading)
	return nil
}

// watch starts reading the session's stdout and stderr (unless reading is
// false: a client that never reads) and waiting for its end. Like a
// terminal, the screen shows both outputs; like ssh(1), the connection is
// closed when the session ends.
func (c *Session) watch(stdout, stderr io.Reader, reading bool) {
	if !reading {
		close(c.readerDone)
	} else {
		var readers sync.WaitGroup
		readers.Add(2)
		go func() { defer readers.Done(); c.read(stdout, false) }()
		go func() { defer readers.Done(); c.read(stderr, true) }()
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
}

// read copies one output stream into its raw buffer and the emulator until
// it ends.
func (c *Session) read(r io.Reader, isStderr bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			c.Feed(isStderr, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// Feed records b as received on stdout (or stderr) and draws it on the
// emulator, waking every waiter. The reader goroutines call it; tests of
// the adapter may too.
func (c *Session) Feed(isStderr bool, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	partial := &c.partial
	if isStderr {
		c.stderr = append(c.stderr, b...)
		partial = &c.partialErr
	} else {
		c.raw = append(c.raw, b...)
	}
	// vt10x drops the bytes of a UTF-8 sequence split across two writes,
	// so an incomplete sequence at the end of a chunk is held back (one
	// per stream) until the next one.
	data := append(*partial, b...)
	keep := IncompleteUTF8Tail(data)
	_, _ = c.term.Write(data[:len(data)-keep])
	*partial = append([]byte(nil), data[len(data)-keep:]...)
	if c.onScreen != nil {
		c.onScreen(strings.Split(c.screenLocked(), "\n"))
	}
	c.notifyLocked()
}

// IncompleteUTF8Tail returns how many bytes at the end of b start a UTF-8
// sequence that is not complete yet.
func IncompleteUTF8Tail(b []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
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

func (c *Session) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Send writes keystrokes (Enter is "\r") and returns the error instead of
// failing a test, so it may run on any goroutine.
func (c *Session) Send(s string) error {
	_, err := io.WriteString(c.stdin, s)
	return err
}

// Type sends keystrokes; Enter is "\r".
func (c *Session) Type(t testing.TB, s string) {
	t.Helper()
	if err := c.Send(s); err != nil {
		t.Fatalf("%s: type %q: %v", c.name, s, err)
	}
}

// Say types a line and Enter.
func (c *Session) Say(t testing.TB, line string) { t.Helper(); c.Type(t, line+"\r") }

// Paste sends s as a bracketed paste (delivered to the program as one
// tea.PasteMsg, whatever it contains).
func (c *Session) Paste(t testing.TB, s string) {
	t.Helper()
	c.Type(t, "\x1b[200~"+s+"\x1b[201~")
}

// Screen returns the emulator's text, one line per row.
func (c *Session) Screen() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.screenLocked()
}

func (c *Session) screenLocked() string {
	return strings.ReplaceAll(c.term.String(), "\x00", " ")
}

// Row returns row y of the screen, trailing spaces trimmed.
func (c *Session) Row(y int) string {
	rows := strings.Split(c.Screen(), "\n")
	if y < 0 || y >= len(rows) {
		return ""
	}
	return strings.TrimRight(rows[y], " ")
}

// Cell returns the glyph (character, colours, attributes) at x, y.
func (c *Session) Cell(x, y int) vt10x.Glyph {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.term.Cell(x, y)
}

// Raw returns a copy of every byte received on stdout so far.
func (c *Session) Raw() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.raw)
}

// Stderr returns a copy of what the server wrote to stderr so far.
func (c *Session) Stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.stderr)
}

// RawLen is how many bytes were received on stdout so far.
func (c *Session) RawLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.raw)
}

// TrimRaw forgets the raw output received so far when it is longer than
// limit (per stream); the screen stays. Nobody may hold an offset into the
// raw output across a TrimRaw.
func (c *Session) TrimRaw(limit int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.raw) > limit {
		c.raw = nil
	}
	if len(c.stderr) > limit {
		c.stderr = nil
	}
}

// Release closes the session and drops its emulator and buffers, so that
// a session still referenced by a cleanup does not count in heap figures.
func (c *Session) Release() {
	c.Close()
	c.mu.Lock()
	c.raw, c.stderr = nil, nil
	c.term = vt10x.New(vt10x.WithSize(1, 1))
	c.mu.Unlock()
}

// Await waits until ok holds for the screen and the raw stdout,
// re-checking on every chunk of output, and reports whether it did, with
// the last screen. It gives up at the timeout, when stop (may be nil) is
// closed, or when the output ends (ended is then true). It never fails a
// test, so it may run on any goroutine.
func (c *Session) Await(timeout time.Duration, stop <-chan struct{}, ok func(screen string, raw []byte) bool) (held bool, screen string, ended bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		screen := c.screenLocked()
		good := ok(screen, c.raw)
		ch, eof := c.changed, c.eof
		c.mu.Unlock()
		if good {
			return true, screen, false
		}
		if eof {
			return false, screen, true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false, screen, false
		case <-stop:
			return false, screen, false
		}
	}
}

// WaitFor waits until the screen contains want (a string) or want (a
// func(screen string) bool) holds, re-checking on every chunk of output. It
// returns the matching screen; on timeout, or when the output ends first,
// it fails the test and prints the last screen.
func (c *Session) WaitFor(t testing.TB, want any, timeout time.Duration) string {
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
	held, screen, ended := c.Await(timeout, nil, func(s string, _ []byte) bool { return ok(s) })
	switch {
	case held:
		return screen
	case ended:
		// The output ended: the screen can no longer change.
		t.Fatalf("%s: output ended before the screen showed %s; last screen:\n%s%s", c.name, desc, Frame(screen), c.rawTail())
	default:
		t.Fatalf("%s: after %v the screen does not show %s; last screen:\n%s%s", c.name, timeout, desc, Frame(screen), c.rawTail())
	}
	return ""
}

// rawTail returns, when E2E_RAW_TAIL=N is set, the last N bytes received,
// quoted, to tell a server problem from an emulator problem.
func (c *Session) rawTail() string {
	n, _ := strconv.Atoi(os.Getenv("E2E_RAW_TAIL"))
	if n <= 0 {
		return ""
	}
	raw := c.Raw()
	return fmt.Sprintf("last %d bytes received:\n%q\n", min(n, len(raw)), raw[max(len(raw)-n, 0):])
}

// Expect is WaitFor(t, text, WaitTimeout).
func (c *Session) Expect(t testing.TB, text string) string {
	t.Helper()
	return c.WaitFor(t, text, WaitTimeout)
}

// Resize changes the emulator's size and tells the server.
func (c *Session) Resize(t testing.TB, w, h int) {
	t.Helper()
	c.mu.Lock()
	c.term.Resize(w, h)
	c.mu.Unlock()
	c.WindowChange(t, w, h)
}

// WindowChange only claims a new window size; the emulator keeps its own.
func (c *Session) WindowChange(t testing.TB, w, h int) {
	t.Helper()
	if err := c.sess.WindowChange(h, w); err != nil {
		t.Fatalf("%s: window change: %v", c.name, err)
	}
}

// WaitEnded waits until the session has ended and returns session.Wait's
// result.
func (c *Session) WaitEnded(t testing.TB, timeout time.Duration) error {
	t.Helper()
	what, err := c.awaitEnd(timeout)
	if what != "" {
		t.Fatalf("%s: %s; last screen:\n%s", c.name, what, Frame(c.Screen()))
	}
	return err
}

// AwaitEnd is WaitEnded for any goroutine: it reports whether the session
// and its output ended within timeout, and session.Wait's result.
func (c *Session) AwaitEnd(timeout time.Duration) (ended bool, err error) {
	what, err := c.awaitEnd(timeout)
	return what == "", err
}

// awaitEnd returns what did not end within timeout ("" when all did) and
// session.Wait's result.
func (c *Session) awaitEnd(timeout time.Duration) (notEnded string, err error) {
	select {
	case <-c.waitDone:
	case <-time.After(timeout):
		return fmt.Sprintf("session still running after %v", timeout), nil
	}
	// Wait for the reader too, so that Raw and Screen hold all the output.
	select {
	case <-c.readerDone:
	case <-time.After(timeout):
		return "output still open after the session ended", nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return "", c.waitErr
}

// Ended reports whether the session has ended.
func (c *Session) Ended() bool {
	select {
	case <-c.waitDone:
		return true
	default:
		return false
	}
}

// Close drops the connection (like closing the terminal window) and waits
// for the session's goroutines.
func (c *Session) Close() {
	if c.sess == nil {
		return // NewScreen: nothing to close
	}
	_ = c.sess.Close()
	_ = c.conn.Close()
	select {
	case <-c.readerDone:
	case <-time.After(WaitTimeout):
	}
	select {
	case <-c.waitDone:
	case <-time.After(WaitTimeout):
	}
}

// ErrNoHostKeyCheck reports a connection whose host key callback never
// ran.
var ErrNoHostKeyCheck = errors.New("the host key callback was not called")
