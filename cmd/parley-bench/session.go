package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// handshakeTimeout bounds one session's dial, key exchange,
// authentication, pty and shell requests.
const handshakeTimeout = 30 * time.Second

// readBufSize is each session's read buffer. The server writes one frame
// per write, a few KiB at most at 100x30.
const readBufSize = 8 << 10

// defaultReady is what parley's screen shows once the chat is up.
const defaultReady = "#lobby"

// session is one SSH session with a pty. A receiver's output goes through
// its own terminal emulator for the whole run; an idle session's only
// until its first screen, then it is read and dropped.
type session struct {
	id       identity
	idle     bool // connects and sits there; never a sender or receiver
	node     int  // which of the bench's nodes it connects to
	receiver bool // set (for ready sessions) before the measuring phase starts

	conn      *ssh.Client
	stdin     io.Writer
	stopClose func() bool // undoes the close at the hard deadline
	err       error       // why it did not connect

	// Since the run's epoch; zero means it did not happen.
	startAt, shellAt, readyAt time.Duration
	ready                     chan struct{} // closed at the first screen or when the output ended first
	done                      chan struct{} // closed when the reader has returned
	endAt                     time.Duration // when the output ended; set before done is closed
	endText                   string        // the screen's last lines then, for the report

	// Owned by the reader goroutine.
	trace     io.Writer // when set, gets every byte of output (-trace)
	term      terminal
	feeder    utf8Feeder
	frames    frameSplitter
	gotScreen bool
	margins   marginWatch // did the server turn left/right margins on?

	mu         sync.Mutex // guards what the report reads while the reader runs
	seen       bitset
	lat        []time.Duration
	lastSeen   time.Duration
	bytes      int64 // while measuring
	reads      int64
	framesSeen int64

	wire         atomic.Int64 // bytes read from the connection (SSH packets)
	wire0, wire1 int64        // wire at the start and the end of measuring
}

func newSession(id identity, idle bool) *session {
	return &session{id: id, idle: idle, ready: make(chan struct{}), done: make(chan struct{})}
}

// connect dials, authenticates, asks for a pty and a shell, and starts the
// reader. It fails when ctx ends first; once connected, the connection is
// closed at b.hard's end whatever happens.
func (b *bench) connect(ctx context.Context, s *session) (err error) {
	s.startAt = b.since()
	d := net.Dialer{}
	if a := b.sourceAddr(s.id.index); a != nil {
		d.LocalAddr = a
	}
	addr := b.nodes[s.node].addr
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	nc := countingConn{Conn: raw, n: &s.wire}
	stopHard := context.AfterFunc(b.hard, func() { nc.Close() })
	stopSoft := context.AfterFunc(ctx, func() { nc.Close() })
	defer stopSoft()
	defer func() {
		if err != nil {
			stopHard()
			nc.Close()
		}
	}()
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	cfg := &ssh.ClientConfig{
		User:            s.id.name,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.id.signer)},
		HostKeyCallback: b.hostKey,
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		return err
	}
	client := ssh.NewClient(c, chans, reqs)
	sess, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty(b.cfg.term, b.cfg.rows, b.cfg.cols, modes); err != nil {
		return fmt.Errorf("pty: %w", err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return err
	}
	// Asked for so that x/crypto/ssh starts no goroutine (and 32 KiB
	// buffer) to discard it; a pty session gets nothing there.
	if _, err := sess.StderrPipe(); err != nil {
		return err
	}
	if err := sess.Shell(); err != nil {
		return fmt.Errorf("shell: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	s.shellAt = b.since()
	in := &lockedWriter{w: stdin}
	s.conn, s.stdin, s.stopClose = client, in, stopHard
	s.term = b.cfg.newTerminal(in)
	go s.read(b, stdout)
	return nil
}

// read feeds the session's output to its emulator until the output ends.
func (s *session) read(b *bench, r io.Reader) {
	defer close(s.done)
	buf := make([]byte, readBufSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			now := b.since()
			b.lastOutput.Store(int64(now))
			if s.trace != nil {
				_, _ = s.trace.Write(buf[:n])
			}
			s.output(b, buf[:n], now)
		}
		if err != nil {
			s.ended(b)
			return
		}
	}
}

func (s *session) output(b *bench, p []byte, now time.Duration) {
	if s.term == nil {
		return // idle after its first screen, or the run is over
	}
	ph := b.phase.Load()
	if ph == phaseDone {
		s.dropTerm()
		return
	}
	s.margins.scan(p)
	measuring := ph == phaseMeasure && s.receiver
	if measuring {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.bytes += int64(len(p))
		s.reads++
	}
	for len(p) > 0 {
		n, ended := s.frames.next(p)
		s.feeder.feed(s.term, p[:n])
		p = p[n:]
		if !s.gotScreen {
			if !screenContains(s.term, b.cfg.ready) {
				continue
			}
			s.gotScreen = true
			s.readyAt = now
			close(s.ready)
			if s.idle {
				s.dropTerm() // no emulator from now on
				if r := b.cfg.idleRoom; r != "" {
					// Joining adds a room; leaving the lobby takes them out of
					// the chat's fan-out.
					_, _ = io.WriteString(s.stdin, "/join #"+r+"\r/leave #lobby\r")
				}
				return
			}
		}
		if measuring {
			if ended {
				s.framesSeen++
			}
			b.tok.scan(s.term, func(sender, n int) { s.recordLocked(b, sender, n, now) })
		}
	}
}

// setLRMM is what a server writes to turn left/right margins on: the
// path for terminals that have them (parley's screen, band.go).
const setLRMM = "\x1b[?69h"

// marginWatch looks for setLRMM in a session's output, across chunks.
// Owned by the session's reader goroutine; on is read after it ended or
// under the session's lock while measuring.
type marginWatch struct {
	on   atomic.Bool
	tail []byte // the end of the last chunk, which may start setLRMM
}

func (m *marginWatch) scan(p []byte) {
	if m.on.Load() {
		return
	}
	joined := p
	if len(m.tail) > 0 {
		joined = append(m.tail, p...)
	}
	if bytes.Contains(joined, []byte(setLRMM)) {
		m.on.Store(true)
		m.tail = nil
		return
	}
	keep := min(len(joined), len(setLRMM)-1)
	m.tail = append(m.tail[:0:0], joined[len(joined)-keep:]...)
}

// recordLocked notes that token (sender, n) is on the screen at now.
func (s *session) recordLocked(b *bench, sender, n int, now time.Duration) {
	i := b.tok.index(sender, n)
	if !s.seen.add(i) {
		return
	}
	sent := time.Duration(b.tok.sentAt[i].Load())
	if sent == 0 {
		b.phantom.Add(1) // on screen before it was typed: a scanning bug
		return
	}
	s.lat = append(s.lat, now-sent)
	s.lastSeen = now
	b.delivered()
}

// ended runs on the reader goroutine when the output has ended.
func (s *session) ended(b *bench) {
	s.endAt = b.since()
	if s.term != nil {
		s.endText = lastLines(s.term, 3)
	}
	s.dropTerm()
	if !s.gotScreen {
		close(s.ready)
	}
}

// dropTerm ends the session's emulator (its answers stop) and forgets it.
func (s *session) dropTerm() {
	if s.term != nil {
		s.term.close()
		s.term = nil
	}
}

// lastLines returns the last n non-empty rows of scr, joined by " | ".
func lastLines(scr screen, n int) string {
	cols, rows := scr.Size()
	var out []string
	for y := rows - 1; y >= 0 && len(out) < n; y-- {
		var b strings.Builder
		for x := range cols {
			r := scr.Char(x, y)
			if r == 0 {
				r = ' '
			}
			b.WriteRune(r)
		}
		if line := strings.TrimSpace(b.String()); line != "" {
			out = append(out, line)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return strings.Join(out, " | ")
}

// quit asks the server to end the session, as a person would.
func (s *session) quit() {
	if s.conn != nil {
		_, _ = io.WriteString(s.stdin, "/quit\r")
	}
}

// close closes the connection and waits for the reader.
func (s *session) close() {
	if s.conn == nil {
		return
	}
	s.conn.Close()
	s.stopClose()
	<-s.done
}
